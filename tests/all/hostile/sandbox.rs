//! Sandbox limits that hold per step, not per memory; component files and compiled caches that cannot be swapped.
