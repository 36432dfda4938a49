//! Incoming webhooks (Slack, Mattermost, Rocket.Chat): `POST {"text": …}` to the department's
//! URL, with the small client of `chat::http`.

use std::time::Duration;

use crate::mail::transport::SendError;

/// The JSON body of a message: `{"text": "…"}`.
pub fn payload(text: &str) -> Vec<u8> {
    serde_json::json!({ "text": text }).to_string().into_bytes()
}

/// Posts the body; 2xx is success, 4xx (but 408 and 429) a permanent refusal, anything else
/// (5xx, no connection, a timeout) worth retrying.
pub async fn post(url: &str, body: &[u8]) -> Result<(), SendError> {
    if super::http::target(url).is_none() {
        return Err(SendError {
            permanent: true,
            message: "not an http(s) URL".into(),
        });
    }
    let r = super::http::request("POST", url, &[], Some(body), Duration::from_secs(30))
        .await
        .map_err(|e| SendError {
            permanent: false,
            message: e.0,
        })?;
    outcome(r.status)
}

/// What an HTTP status means for an outbox row.
pub fn outcome(status: u16) -> Result<(), SendError> {
    match status {
        200..=299 => Ok(()),
        408 | 429 => Err(SendError {
            permanent: false,
            message: format!("HTTP {status}"),
        }),
        400..=499 => Err(SendError {
            permanent: true,
            message: format!("HTTP {status}"),
        }),
        _ => Err(SendError {
            permanent: false,
            message: format!("HTTP {status}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_is_slack_json() {
        assert_eq!(
            payload("業務開始 \"A\""),
            r#"{"text":"業務開始 \"A\""}"#.as_bytes().to_vec()
        );
    }

    #[test]
    fn refusals_are_permanent_but_busy_servers_are_retried() {
        assert!(outcome(200).is_ok());
        assert!(outcome(404).unwrap_err().permanent);
        assert!(!outcome(429).unwrap_err().permanent);
        assert!(!outcome(503).unwrap_err().permanent);
    }
}
