//! Seeing the state of protection: the outcome journal every changing run appends to, the
//! capacity guard, the status model and its Prometheus rendering.

pub mod guard;
pub mod journal;
pub mod model;
pub mod prometheus;
pub mod render;
