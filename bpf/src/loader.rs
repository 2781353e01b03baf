//! Loading and attaching (filled in below).
