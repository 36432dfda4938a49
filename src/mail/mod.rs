//! Mail in and out: parsing, Maildir, templates and the transports.

pub mod maildir;
pub mod parse;
pub mod template;
pub mod transport;
