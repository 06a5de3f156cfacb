//! Choosing the compute device at run time.

use anyhow::{Result, bail};
use burn::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// Burn's Flex CPU backend (always built).
    Cpu,
    /// wgpu: Vulkan, Metal or DirectX, kernels in WGSL (build with `--features wgpu`).
    Wgpu,
    /// wgpu pinned to Vulkan, kernels in SPIR-V with tensor-core matmuls where the GPU has them
    /// (build with `--features vulkan`).
    Vulkan,
    /// CUDA (build with `--features cuda`).
    Cuda,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Cpu => "cpu (flex)",
            Backend::Wgpu => "wgpu",
            Backend::Vulkan => "vulkan",
            Backend::Cuda => "cuda",
        }
    }

    /// The `--backend` value that selects this backend.
    pub fn arg(self) -> &'static str {
        match self {
            Backend::Cpu => "cpu",
            Backend::Wgpu => "wgpu",
            Backend::Vulkan => "vulkan",
            Backend::Cuda => "cuda",
        }
    }

    /// Whether the device is a GPU's (or an emulated one's): the training step then keeps
    /// everything on the device (see `model_core::train`).
    pub fn is_gpu(self) -> bool {
        self != Backend::Cpu
    }

    pub fn device(self) -> Result<Device> {
        match self {
            Backend::Cpu => Ok(Device::flex()),
            #[cfg(any(feature = "backend-wgpu", feature = "backend-vulkan"))]
            Backend::Wgpu => Ok(Device::wgpu(DeviceKind::DefaultDevice)),
            #[cfg(feature = "backend-vulkan")]
            Backend::Vulkan => Ok(Device::vulkan(DeviceKind::DefaultDevice)),
            #[cfg(feature = "backend-cuda")]
            Backend::Cuda => Ok(Device::cuda(0)),
            #[allow(unreachable_patterns)]
            other => bail!(
                "this nerco was built without the {0} backend; rebuild with `cargo build --release --features {0}`",
                other.name()
            ),
        }
    }
}
