//! Chat (SPEC §10): teleworkers report by chat as well as by mail (Matrix `/sync`, a
//! Slack/Mattermost slash command), and the departments' rooms get escalations and digests
//! (Matrix rooms, Slack-compatible incoming webhooks). Like mail, every chat message is an
//! outbox row first, delivered with retries, exactly once.

pub mod http;
pub mod matrix;
pub mod slash;
pub mod webhook;
