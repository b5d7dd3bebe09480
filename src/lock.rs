//! Locks: the node-local lock per storage (std `File::lock` with a deadline) and the pmxcfs cluster lock.
