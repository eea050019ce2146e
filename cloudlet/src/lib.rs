//! A cloudlet node of mcc-emu.
//!
//! A cloudlet hosts VMs for mobile devices, serves their requests, and sends
//! or receives VMs when a placement policy moves them. Everything here is a
//! plain state machine: it is handed the current time and events and answers
//! what should happen next, so that the virtual-clock engine and the real gRPC
//! node drive the same code.
