//! zaitaku (在宅): the daily operation of a city's telework programme.
//!
//! Pure rules (`calendar`, `order`, `ids`, `classify`, `timing`, `report`, `board`) take facts
//! and `now` as arguments and never touch the database, the network or the clock. Adapters
//! (`store`, `mail`, `outbox`, `ingest`, `tick`) do the I/O; `cli` only parses and prints.

pub mod board;
pub mod calendar;
pub mod chat;
pub mod classify;
pub mod cli;
pub mod config;
pub mod csvin;
pub mod daemon;
pub mod demo;
pub mod error;
pub mod escalation;
pub mod health;
pub mod holidays;
pub mod ids;
pub mod ingest;
pub mod mail;
pub mod order;
pub mod outbox;
pub mod register;
pub mod report;
pub mod store;
pub mod survey;
pub mod text;
pub mod tick;
pub mod timing;
pub mod usecase;
pub mod web;

pub use error::{Error, Result};
