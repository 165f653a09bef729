//! The measurement behind `--precision int8`: the four linear layers of one MiniLM layer
//! (real weights of layer 0) at the encoder's shapes, f32 (candle/gemm, what `bert.rs`
//! runs) against the reduced-precision candidates:
//!
//! * candle `QMatMul` with Q8_0 weights (candle's int8; VNNI only when k % 256 == 0),
//! * candle bf16 matmul (inputs and weights converted to bf16 beforehand),
//! * kimera's own int8 kernel (`src/int8.rs`: AVX-512 VNNI, scales per group of 64 inputs).
//!
//! Each candidate runs independent token batches in parallel on a rayon pool of THREADS
//! threads (the encoder's pattern: one batch per thread), so the figure is throughput in
//! tokens per second through each product, and the relative error of each output against
//! f32 is printed beside it. Figures: docs/benchmarks.md (issue #22 lab notes).
//!
//! ```text
//! cargo run --release -p kimera-embed --example int8_matmul -- [TOKENS_PER_BATCH=768] [THREADS=2]
//! ```

#[path = "../src/int8.rs"]
#[allow(dead_code)]
mod int8;

use std::time::Instant;

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{DType, Device, Module, Tensor};
use rayon::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let m: usize = args.first().map_or(Ok(768), |s| s.parse())?;
    let threads: usize = args.get(1).map_or(Ok(2), |s| s.parse())?;
    let dir = kimera_embed::model_dir();
    let ts = candle_core::safetensors::load(dir.join("model.safetensors"), &Device::Cpu)?;
    let get = |name: &str| -> Result<Tensor, candle_core::Error> {
        let t = ts
            .get(name)
            .or_else(|| ts.get(&format!("bert.{name}")))
            .ok_or_else(|| candle_core::Error::Msg(format!("{name} missing")))?;
        t.to_dtype(DType::F32)
    };
    let p = "encoder.layer.0.";
    let qkv = Tensor::cat(
        &[
            get(&format!("{p}attention.self.query.weight"))?,
            get(&format!("{p}attention.self.key.weight"))?,
            get(&format!("{p}attention.self.value.weight"))?,
        ],
        0,
    )?;
    // [out, in] as stored
    let weights = [
        ("qkv 384→1152", qkv),
        (
            "attn-out 384→384",
            get(&format!("{p}attention.output.dense.weight"))?,
        ),
        (
            "ffn-in 384→1536",
            get(&format!("{p}intermediate.dense.weight"))?,
        ),
        ("ffn-out 1536→384", get(&format!("{p}output.dense.weight"))?),
    ];
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let rounds = 3usize.max(12 * 768 / m.max(1));
    println!(
        "{} threads, batches of {m} tokens, {rounds} rounds × {threads} batches; VNNI: {}",
        threads,
        std::arch::is_x86_feature_detected!("avx512vnni")
    );

    // Inputs of a realistic spread: layer-normed rows are ~N(0,1) with a few outliers.
    let mut seed = 12345u32;
    let mut normal = || {
        let mut s = 0f32;
        for _ in 0..12 {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            s += (seed >> 8) as f32 / (1u32 << 24) as f32;
        }
        s - 6.0
    };
    let mut total = [0f64; 3];
    for (name, w_out_in) in &weights {
        let (n, k) = w_out_in.dims2()?;
        let x: Vec<f32> = (0..m * k)
            .map(|i| {
                if i % 97 == 0 {
                    8.0 * normal()
                } else {
                    normal()
                }
            })
            .collect();
        let w_in_out = w_out_in.t()?.contiguous()?;
        let xt = Tensor::from_vec(x.clone(), (m, k), &Device::Cpu)?;
        let reference = xt.matmul(&w_in_out)?.flatten_all()?.to_vec1::<f32>()?;
        let rel = |y: &[f32]| {
            let num: f32 = y
                .iter()
                .zip(&reference)
                .map(|(a, b)| (a - b) * (a - b))
                .sum();
            let den: f32 = reference.iter().map(|b| b * b).sum();
            (num / den).sqrt()
        };
        let time = |f: &(dyn Fn() -> Vec<f32> + Sync)| -> (f64, Vec<f32>) {
            let out = f();
            let t0 = Instant::now();
            pool.install(|| {
                (0..rounds * threads).into_par_iter().for_each(|_| {
                    std::hint::black_box(f());
                })
            });
            (
                (rounds * threads * m) as f64 / t0.elapsed().as_secs_f64(),
                out,
            )
        };

        let (f32_tps, _) = time(&|| {
            xt.matmul(&w_in_out)
                .and_then(|y| y.flatten_all()?.to_vec1::<f32>())
                .unwrap()
        });
        let q8 = QMatMul::from_qtensor(QTensor::quantize(w_out_in, GgmlDType::Q8_0)?)?;
        let (q8_tps, q8_out) = time(&|| {
            q8.forward(&xt)
                .and_then(|y| y.flatten_all()?.to_vec1::<f32>())
                .unwrap()
        });
        let (xb, wb) = (xt.to_dtype(DType::BF16)?, w_in_out.to_dtype(DType::BF16)?);
        let bf16 = match xb.matmul(&wb) {
            Ok(_) => {
                let (tps, out) = time(&|| {
                    xb.matmul(&wb)
                        .and_then(|y| y.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>())
                        .unwrap()
                });
                format!(
                    "{tps:.0} tok/s ({:.2}×, rel err {:.4})",
                    tps / f32_tps,
                    rel(&out)
                )
            }
            Err(e) => format!("refused: {e}"),
        };
        let ql = int8::QLinear::new(&w_in_out.flatten_all()?.to_vec1::<f32>()?, k, n);
        let (i8_tps, i8_out) = time(&|| ql.matmul(&x));
        println!(
            "{name:18} f32 {:>8.0} tok/s | candle Q8_0 {:>8.0} tok/s ({:.2}×, rel err {:.4}) | kimera int8 {:>8.0} tok/s ({:.2}×, rel err {:.4})",
            f32_tps,
            q8_tps,
            q8_tps / f32_tps,
            rel(&q8_out),
            i8_tps,
            i8_tps / f32_tps,
            rel(&i8_out),
        );
        println!("{:18} candle bf16 matmul: {bf16}", "");
        for (t, tps) in total.iter_mut().zip([f32_tps, q8_tps, i8_tps]) {
            *t += 1.0 / tps;
        }
    }
    println!(
        "all four layers     f32 {:>8.0} tok/s | candle Q8_0 {:>8.0} tok/s ({:.2}×) | kimera int8 {:>8.0} tok/s ({:.2}×)",
        1.0 / total[0],
        1.0 / total[1],
        total[0] / total[1],
        1.0 / total[2],
        total[0] / total[2]
    );
    Ok(())
}
