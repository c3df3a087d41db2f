//! Only the reviewed plan is applied: full hashes, journals bound to their plan, reviewed pushes and dispatches.
