//! `portal-local`: the whole portal on one machine. Every function's router, the authorizer as
//! middleware, the static pages, the mail outbox and presigned blob URLs, over the embedded
//! adapters. No AWS account needed.

use portal_local::{config_from_args, run};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    portal_http::init_tracing();
    let config = match config_from_args(std::env::args().skip(1).collect()) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(2);
        }
    };
    // A long-running host: request lines are buffered, not written one by one.
    portal_http::observe::buffer_lines();
    let ran = run(config).await;
    portal_http::observe::flush();
    if let Err(e) = ran {
        eprintln!("portal-local: {e}");
        std::process::exit(1);
    }
}
