//! Operating-system plumbing: node and cluster locks, signals, detached processes, default paths,
//! the outcome journal file.
//! No workflow decisions here; the layers above say what to lock, run or wait for.

pub mod cluster_lock;
pub mod journal;
pub mod lock;
pub mod paths;
pub mod process;
pub mod rescan_slot;
pub mod seams;
pub mod signals;
