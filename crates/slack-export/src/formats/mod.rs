//! The export formats, one [`crate::sink::Sink`] each: `text` (readable), `json` (lossless raw) and
//! `slack` (the standard workspace export layout, as a folder or a zip), `html` (an offline archive).

pub mod html;
pub mod json;
pub mod slack;
pub mod text;
