//! zaitaku (在宅): the daily operation of a city's telework programme.
//!
//! Four layers, imports pointing down but for one knot left (docs/architecture.md, checked by
//! tests/architecture.rs):
//! the rules (`calendar`, `order`, `ids`, `classify`, `timing`, `escalation`, `report`,
//! `board::build`) take facts and `now` as arguments and never touch the database, the network
//! or the clock; the use cases (`usecase`, `register`, `ingest`, `tick`, `survey`) and the
//! adapters (`store`, `mail`, `chat`, `web`, `outbox`) do the I/O; the front ends (`cli`,
//! `daemon`, `demo`, and `main`) only parse, read the clock once, call and print.

pub mod attendance;
pub mod audit;
pub mod board;
pub mod calendar;
pub mod chat;
pub mod classify;
pub mod cli;
pub mod clock;
pub mod config;
pub mod csvin;
pub mod daemon;
pub mod demo;
pub mod directory;
pub mod error;
pub mod escalation;
pub mod health;
pub mod holidays;
pub mod ids;
pub mod ingest;
pub mod ldap;
pub mod mail;
pub mod notice;
pub mod order;
pub mod outbox;
pub mod register;
pub mod report;
pub mod store;
pub mod survey;
pub mod tenant;
pub mod text;
pub mod tick;
pub mod timing;
pub mod usecase;
pub mod web;

pub use error::{Error, Result};
