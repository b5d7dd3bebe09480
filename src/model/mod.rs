//! Pure leaves: snapshot and clone names, retention rules, storage ids, the policy value types, and
//! the capacity guard, outcome records and status model.
//! Nothing here does I/O or imports another layer; everything above may use it.

pub mod capacity;
pub mod names;
pub mod outcome;
pub mod policy;
pub mod retention;
pub mod status;
pub mod storage;
