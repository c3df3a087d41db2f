//! Secret values are masked in every form they can take, and never stored in undo data.
