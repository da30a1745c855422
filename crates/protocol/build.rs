//! Compiles `proto/imsync.proto` into Rust types at build time.
//!
//! protox parses the .proto in pure Rust, so no system `protoc` is needed;
//! prost-build turns its FileDescriptorSet into the prost types.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/imsync.proto");
    let fds = protox::compile(["imsync.proto"], ["proto"])?;
    prost_build::Config::new()
        // Ordered maps keep encodings deterministic (stable bytes in tests and
        // in the server's stored message bodies).
        .btree_map(["."])
        .compile_fds(fds)?;
    Ok(())
}
