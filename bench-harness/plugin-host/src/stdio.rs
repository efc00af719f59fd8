//! The guest's standard streams without tokio's `block_on`.
//!
//! wasmtime-wasi's synchronous bindings run every *blocking* stream call (and dropping a
//! stream) through `in_tokio`, which calls `Handle::block_on` when a tokio runtime is current
//! — and perflab calls guests from inside its runtime's tasks, where that panics ("Cannot start
//! a runtime from within a runtime"). One `println!` in a plugin took perflab down.
//!
//! In this sandbox the only streams a guest can reach are its stdin (empty) and stdout/stderr
//! (captured by [`crate::output::GuestOutput`], always writable, never blocking), so their
//! blocking calls can be answered directly. These implementations shadow wasmtime-wasi's for
//! `wasi:io/streams`; `wasi:io/poll`, which a guest could still call on anything, runs its
//! waiting on a short-lived helper thread where no runtime is current.

use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::p2::bindings::sync::io::{poll, streams};
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, DynPollable, StreamResult};

/// A store's state that holds the guest's resource table.
pub trait HasTable {
    fn table(&mut self) -> &mut ResourceTable;
}

/// The sandbox's view of the resource table for stream and poll calls.
pub struct SandboxIo<'a>(&'a mut ResourceTable);

struct Sandbox;

impl HasData for Sandbox {
    type Data<'a> = SandboxIo<'a>;
}

/// Replaces wasmtime-wasi's `wasi:io/streams` and `wasi:io/poll` in `linker`.
pub fn add_to_linker<T: HasTable + Send + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    streams::add_to_linker::<T, Sandbox>(linker, |s| SandboxIo(s.table()))?;
    poll::add_to_linker::<T, Sandbox>(linker, |s| SandboxIo(s.table()))?;
    linker.allow_shadowing(false);
    Ok(())
}

/// Runs `f` on a helper thread, where no tokio runtime is current, so that wasmtime-wasi may
/// start its own to wait.
fn off_runtime<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|s| {
        s.spawn(f)
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

impl streams::Host for SandboxIo<'_> {
    fn convert_stream_error(
        &mut self,
        err: wasmtime_wasi::p2::StreamError,
    ) -> wasmtime::Result<streams::StreamError> {
        streams::Host::convert_stream_error(self.0, err)
    }
}

impl streams::HostOutputStream for SandboxIo<'_> {
    fn drop(&mut self, stream: Resource<DynOutputStream>) -> wasmtime::Result<()> {
        // The captured streams hold nothing to cancel.
        self.0.delete(stream)?;
        Ok(())
    }

    fn check_write(&mut self, stream: Resource<DynOutputStream>) -> StreamResult<u64> {
        streams::HostOutputStream::check_write(self.0, stream)
    }

    fn write(&mut self, stream: Resource<DynOutputStream>, bytes: Vec<u8>) -> StreamResult<()> {
        streams::HostOutputStream::write(self.0, stream, bytes)
    }

    fn blocking_write_and_flush(
        &mut self,
        stream: Resource<DynOutputStream>,
        bytes: Vec<u8>,
    ) -> StreamResult<()> {
        // Always writable: no waiting for readiness is needed (or possible) here.
        let s = self.0.get_mut(&stream)?;
        s.write(bytes.into())?;
        s.flush()
    }

    fn blocking_write_zeroes_and_flush(
        &mut self,
        stream: Resource<DynOutputStream>,
        len: u64,
    ) -> StreamResult<()> {
        let s = self.0.get_mut(&stream)?;
        s.write_zeroes(len as usize)?;
        s.flush()
    }

    fn subscribe(
        &mut self,
        stream: Resource<DynOutputStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        streams::HostOutputStream::subscribe(self.0, stream)
    }

    fn write_zeroes(&mut self, stream: Resource<DynOutputStream>, len: u64) -> StreamResult<()> {
        streams::HostOutputStream::write_zeroes(self.0, stream, len)
    }

    fn flush(&mut self, stream: Resource<DynOutputStream>) -> StreamResult<()> {
        streams::HostOutputStream::flush(self.0, stream)
    }

    fn blocking_flush(&mut self, stream: Resource<DynOutputStream>) -> StreamResult<()> {
        self.0.get_mut(&stream)?.flush()
    }

    fn splice(
        &mut self,
        dst: Resource<DynOutputStream>,
        src: Resource<DynInputStream>,
        len: u64,
    ) -> StreamResult<u64> {
        streams::HostOutputStream::splice(self.0, dst, src, len)
    }

    fn blocking_splice(
        &mut self,
        dst: Resource<DynOutputStream>,
        src: Resource<DynInputStream>,
        len: u64,
    ) -> StreamResult<u64> {
        streams::HostOutputStream::splice(self.0, dst, src, len)
    }
}

impl streams::HostInputStream for SandboxIo<'_> {
    fn drop(&mut self, stream: Resource<DynInputStream>) -> wasmtime::Result<()> {
        self.0.delete(stream)?;
        Ok(())
    }

    fn read(&mut self, stream: Resource<DynInputStream>, len: u64) -> StreamResult<Vec<u8>> {
        streams::HostInputStream::read(self.0, stream, len)
    }

    /// stdin is empty: a blocking read answers at once (end of stream).
    fn blocking_read(
        &mut self,
        stream: Resource<DynInputStream>,
        len: u64,
    ) -> StreamResult<Vec<u8>> {
        streams::HostInputStream::read(self.0, stream, len)
    }

    fn skip(&mut self, stream: Resource<DynInputStream>, len: u64) -> StreamResult<u64> {
        streams::HostInputStream::skip(self.0, stream, len)
    }

    fn blocking_skip(&mut self, stream: Resource<DynInputStream>, len: u64) -> StreamResult<u64> {
        streams::HostInputStream::skip(self.0, stream, len)
    }

    fn subscribe(
        &mut self,
        stream: Resource<DynInputStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        streams::HostInputStream::subscribe(self.0, stream)
    }
}

impl poll::Host for SandboxIo<'_> {
    fn poll(&mut self, pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        let table = &mut *self.0;
        off_runtime(move || poll::Host::poll(table, pollables))
    }
}

impl poll::HostPollable for SandboxIo<'_> {
    fn ready(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<bool> {
        let table = &mut *self.0;
        off_runtime(move || poll::HostPollable::ready(table, pollable))
    }

    fn block(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        let table = &mut *self.0;
        off_runtime(move || poll::HostPollable::block(table, pollable))
    }

    fn drop(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        poll::HostPollable::drop(self.0, pollable)
    }
}
