//! The command layer: dispatch of parsed command lines, confirmation prompts, text/JSON rendering,
//! `check`, and the live API clients. The top of the library; nothing below imports it.

mod backends;
mod check;
mod confirm;
mod dispatch;
mod guardian;
mod locking;
mod prometheus;
mod render;
mod status;
mod status_render;

pub use dispatch::run;

#[cfg(test)]
mod tests;
