//! Pure leaves: snapshot and clone names, retention rules, storage ids and the policy value types.
//! Nothing here does I/O or imports another layer; everything above may use it.

pub mod names;
pub mod policy;
pub mod retention;
pub mod storage;
