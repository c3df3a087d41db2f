//! Untrusted strings reach terminals and the Actions log neutralised: no workflow command, no escape sequence.
