//! The hostile-input suite: each case an attacker would try against ferry,
//! asserting that it is refused or contained, with a message that says why.
//! One file per area; every test here fails if its defence is removed.

mod actions;
mod credentials;
mod grants;
mod output;
mod review;
mod sandbox;
mod secrets;
mod state;
mod vm_input;
