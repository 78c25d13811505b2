#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    waxseal_fuzz::dpop::dpop_proof(data);
});
