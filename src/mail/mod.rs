//! Mail in and out: parsing, Maildir, templates and the transports.

pub mod address;
pub mod auth;
pub mod format;
pub mod imap;
pub mod lease;
pub mod maildir;
pub mod parse;
pub mod server_url;
pub mod template;
pub mod tls;
pub mod transport;
