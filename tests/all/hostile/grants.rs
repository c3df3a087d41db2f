//! The host owns what an action is: risk floors, host-rendered descriptions and per-step operation grants.
