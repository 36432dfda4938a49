-- The outbox carries chat messages too: `channel` says how a row is delivered. For 'webhook'
-- rows envelope_to is the incoming-webhook URL and raw the JSON body ({"text": …}).
ALTER TABLE outbox ADD COLUMN channel TEXT NOT NULL DEFAULT 'mail';
