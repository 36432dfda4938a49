//! Chat: messages to the departments' rooms (Slack-compatible incoming webhooks). Like mail,
//! every chat message is an outbox row first, delivered with retries, exactly once.

pub mod webhook;
