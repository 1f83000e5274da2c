//! The credential cache protocol: any bytes a client or agent may send, framed, then decoded
//! as a request and as a reply.
#![no_main]

use credential_cache::protocol::{Request, Response, decode, read_frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(body) = read_frame(&mut &data[..]) {
        let _ = decode::<Request>(&body);
        let _ = decode::<Response>(&body);
    }
    let _ = decode::<Request>(data);
    let _ = decode::<Response>(data);
});
