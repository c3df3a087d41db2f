//! The state store: locks that cannot be lost or shared by accident, journals that cannot block other runs.
