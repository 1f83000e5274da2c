//! ASN.1: the DER reader every binary format here is parsed with, and PEM armour.

pub mod der;
pub mod pem;
