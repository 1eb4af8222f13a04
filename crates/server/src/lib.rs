//! The Mingma HTTP service (`mingma serve`, `mingma demo`).
//!
//! What a holder and a venue see: sign-in with an ID number confirmed by a one-time
//! code, the code page (colour, signed checkpoint code as a QR, reason, 赋码来源,
//! 赋码时间, next change, the "why" view), history with ledger receipts, venue
//! registration with a printable poster (SVG and PNG) and a rotating code for a screen, and
//! check-in; a JSON API for all of it under `/api/v1` (OpenAPI at
//! `/api/v1/openapi.json`), the trust list at `/.well-known/mingma/trust-list.json`,
//! `/healthz`, and Prometheus metrics on a separate listener.
//!
//! # What this crate must never do
//! Set a colour (codes come from `mingma_core::derive`, code states are recorded by
//! `mingma_engine::Engine` only), put personal data (names, phones) into evidence or
//! the ledger, or record anything for a forged or malformed venue token.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod accounts;
pub mod api;
pub mod app;
pub mod appeals;
pub mod auth;
pub mod bulk;
pub mod config;
pub mod consent;
pub mod console;
pub mod console_api;
pub mod error;
pub mod font;
pub mod metrics;
pub mod officials;
pub mod overload;
pub mod pages;
pub mod poster_png;
pub mod qr;
pub mod serve;

pub use app::App;
pub use config::Config;
pub use serve::{build, init_logs, listen, load_keys, router, serve, serve_on};
