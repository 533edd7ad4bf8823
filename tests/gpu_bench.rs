//! First GPU timings of the kernels on real C3D layer shapes (batch 1, 16×112×112 clips),
//! printed as ms and GFLOP/s. Runs only where there is a GPU (scripts/gpu-check.sh), prints
//! `SKIP: no CUDA device` elsewhere. Each call is synchronous and includes allocating its
//! output, as the backend does today; the best of 5 runs after a warm-up is reported.

use std::time::Instant;

use stsm_engine::backend::cuda::device::launcher_for;
use stsm_engine::backend::cuda::CudaBackend;
use stsm_engine::backend::{Conv3dOps, PoolOps};
use stsm_engine::ops::{Conv3dGeometry, Conv3dOptions, Pool3dGeometry, Pool3dOptions};
use stsm_engine::tensor::{Device, Tensor};

fn best_ms(mut f: impl FnMut()) -> f64 {
    f();
    (0..5)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .fold(f64::INFINITY, f64::min)
}

fn filled(dims: &[usize], dev: Device) -> Tensor {
    let n: usize = dims.iter().product();
    Tensor::from_vec(dims, (0..n).map(|i| ((i % 17) as f32 - 8.0) / 8.0).collect())
        .unwrap()
        .to_device(dev)
        .unwrap()
}

#[test]
fn c3d_layer_timings() {
    let dev = match launcher_for(Device::Cuda(0)) {
        Ok(_) => Device::Cuda(0),
        Err(e) => return eprintln!("SKIP: no CUDA device ({e})"),
    };
    let be = CudaBackend;
    let same = Conv3dOptions {
        stride: [1; 3],
        padding: [1; 3],
    };
    // (name, input (N, C, T, H, W), out channels)
    let layers: [(&str, [usize; 5], usize); 4] = [
        ("conv1a", [1, 3, 16, 112, 112], 64),
        ("conv2a", [1, 64, 16, 56, 56], 128),
        ("conv3b", [1, 256, 8, 28, 28], 256),
        ("conv5a", [1, 512, 2, 7, 7], 512),
    ];
    for (name, xd, o) in layers {
        let x = filled(&xd, dev);
        let w = filled(&[o, xd[1], 3, 3, 3], dev);
        let b = filled(&[o], dev);
        let g = Conv3dGeometry::new(x.shape(), w.shape(), &same).unwrap();
        let gy = filled(&g.output_dims(), dev);
        let gflop = 2.0 * g.macs() as f64 / 1e9;
        let fwd = best_ms(|| drop(be.conv3d_forward(&x, &w, Some(&b), &g).unwrap()));
        let xb = best_ms(|| drop(be.conv3d_x_backward(&gy, &w, &g).unwrap()));
        let wb = best_ms(|| drop(be.conv3d_weight_backward(&gy, &x, &g).unwrap()));
        println!(
            "{name}: fwd {fwd:.3} ms ({:.0} GFLOP/s), x-grad {xb:.3} ms ({:.0}), w-grad {wb:.3} ms ({:.0})",
            gflop / fwd * 1e3,
            gflop / xb * 1e3,
            gflop / wb * 1e3
        );
    }
    let x = filled(&[1, 64, 16, 112, 112], dev);
    let g = Pool3dGeometry::new("max_pool3d", x.shape(), &Pool3dOptions::new([1, 2, 2])).unwrap();
    let (y, arg) = be.max_pool3d_forward(&x, &g).unwrap();
    let fwd = best_ms(|| drop(be.max_pool3d_forward(&x, &g).unwrap()));
    let bwd = best_ms(|| drop(be.max_pool3d_backward(&y, &arg, &g).unwrap()));
    let gb = (x.numel() + 2 * y.numel()) as f64 * 4.0 / 1e9;
    println!("pool1: fwd {fwd:.3} ms ({:.0} GB/s), bwd {bwd:.3} ms", gb / fwd * 1e3);
}
