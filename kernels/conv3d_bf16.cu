// 3D convolution on bf16 tensor cores (mma.sync m16n8k16, fp32 accumulation) as implicit
// GEMMs over channels-last tensors whose channel counts are padded to multiples of 8, so a
// tap's 8 channels are one aligned 16-byte vector (kernels/bf16.cu makes these layouts):
//   forward          y = im2col(x) · Wᵀ   M×N×K = (N·T'·H'·W') × Op × (taps·Cp)
//   input gradient   gx = gather(gy) · W  M×N×K = (N·T·H·W) × Cp × (taps·Op)
//   weight gradient  gw = gyᵀ · im2col(x) M×N×K = O × (taps·Cp) × (N·T'·H'·W')
// One block computes a BM×BN tile of C in 32-wide K steps through a 3-stage cp.async
// pipeline: every thread copies fixed 16-byte vectors of the A and B tiles into shared
// memory (zero-filled off the tensor or on the padding), the warps read fragments with
// ldmatrix and multiply with mma. Shared tiles are XOR-swizzled so that neither the copies
// nor ldmatrix conflict on banks. Index arithmetic is per tile (row positions decoded once)
// or incremental (the K walk across taps); the remaining divisions by run-time sizes use
// StsmDiv magic numbers. Work items (slice, tile row, tile column) are walked grid-stride.
// Split-K slices write fp32 partials that a second kernel sums in slice order.
#include "common.cuh"
#include "bf16.cuh"
#include "mma.cuh"

// Mutation testing: the emulator suite builds this file once more with the macro defined
// and asserts that the comparison with the CPU reference then FAILS.
#ifdef STSM_MUTATE_CONV_BF16_OFF_BY_ONE
#define CBF_TAP_SHIFT 1
#else
#define CBF_TAP_SHIFT 0
#endif

// 16 bytes, aligned as cp.async and ldmatrix need: the shared tiles are arrays of these.
struct alignas(16) CbfVec16 {
    u32 w[4];
};

#define CBF_BK 32     // K elements per stage: 4 vectors of 8 bf16 per tile row
#define CBF_STAGES 3  // cp.async pipeline depth

template <int BM_, int BN_, int WM_, int WN_>
struct TileConfig {
    static constexpr int BM = BM_, BN = BN_, WM = WM_, WN = WN_;
    static constexpr int WARPS_N = BN / WN;
    static constexpr int THREADS = 32 * (BM / WM) * (BN / WN);
    static constexpr int MI = WM / 16, NI = WN / 8;  // mma tiles per warp
    static constexpr int A_ELEMS = BM * CBF_BK, B_ELEMS = BN * CBF_BK;
    static constexpr int STAGE = A_ELEMS + B_ELEMS;  // bf16 elements per stage
};

// K-contiguous tile [rows][32] (forward, input gradient): rows of 64 bytes, 4 chunks of 16
// bytes; chunk c of row r sits at c ^ ((r >> 1) & 3). Eight consecutive rows at one logical
// chunk (an ldmatrix phase) then cover all eight 16-byte bank groups.
__device__ __forceinline__ int kc_offset(int row, int chunk) { return row * CBF_BK + ((chunk ^ ((row >> 1) & 3)) << 3); }

// MN-contiguous tile [32][cols] (weight gradient): row k of `cols` elements, chunk c at
// c ^ (k & 7); eight consecutive k at one chunk (an ldmatrix.trans phase) are conflict-free.
template <int COLS>
__device__ __forceinline__ int mn_offset(int k, int chunk) {
    return k * COLS + ((chunk ^ (k & 7)) << 3);
}

// Where this lane's ldmatrix rows start inside a stage, for the first 16 of the step's 32 K
// (element offsets; worked out once per tile). The second 16 are a fixed change away: in the
// K-contiguous tiles the logical chunk moves from c to c + 2, which the swizzle turns into
// offset ^ 16; in the MN-contiguous tiles k moves by 16 rows, which keeps k & 7.
template <class C, bool KMajor>
struct FragOffsets {
    int a[C::MI], b[C::NI / 2];

    __device__ __forceinline__ FragOffsets() {
        const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
        const int wm = (warp / C::WARPS_N) * C::WM, wn = (warp % C::WARPS_N) * C::WN;
        const int quad = lane >> 3, r8 = lane & 7;
#pragma unroll
        for (int i = 0; i < C::MI; ++i)
            a[i] = KMajor ? mn_offset<C::BM>(r8 + ((quad >> 1) << 3), (wm + i * 16 + ((quad & 1) << 3)) >> 3)
                          : kc_offset(wm + i * 16 + (lane & 15), lane >> 4);
#pragma unroll
        for (int j = 0; j < C::NI / 2; ++j)
            b[j] = KMajor ? C::A_ELEMS + mn_offset<C::BN>(r8 + ((quad & 1) << 3), (wn + j * 16 + ((quad >> 1) << 3)) >> 3)
                          : C::A_ELEMS + kc_offset(wn + j * 16 + (lane & 7) + ((lane >> 4) << 3), (lane >> 3) & 1);
    }
    __device__ __forceinline__ static int next16(int off, bool b_tile) {
        return KMajor ? off + 16 * (b_tile ? C::BN : C::BM) : off ^ 16;
    }
};

// One 32-wide K step of the warp's WM×WN product from a stage: K-contiguous tiles A [BM][32]
// (row-major A) and B [BN][32] (B stored n-major: the col-major operand) read by ldmatrix,
// or MN-contiguous tiles A [32][BM] and B [32][BN] (both k-major) read by ldmatrix.trans,
// which gives the same fragments.
template <class C, bool KMajor>
__device__ __forceinline__ void mma_stage(const stsm_bf16* stage, const FragOffsets<C, KMajor>& off,
                                          float (&acc)[C::MI][C::NI][4]) {
#pragma unroll
    for (int kk = 0; kk < CBF_BK / 16; ++kk) {
        unsigned a[C::MI][4], b[C::NI][2];
#pragma unroll
        for (int i = 0; i < C::MI; ++i) {
            const stsm_bf16* row = stage + (kk ? off.next16(off.a[i], false) : off.a[i]);
            if (KMajor)
                ldmatrix_x4_trans(a[i], row);
            else
                ldmatrix_x4(a[i], row);
        }
#pragma unroll
        for (int j = 0; j < C::NI; j += 2) {
            unsigned r[4];
            const stsm_bf16* row = stage + (kk ? off.next16(off.b[j / 2], true) : off.b[j / 2]);
            if (KMajor)
                ldmatrix_x4_trans(r, row);
            else
                ldmatrix_x4(r, row);
            b[j][0] = r[0], b[j][1] = r[1], b[j + 1][0] = r[2], b[j + 1][1] = r[3];
        }
#pragma unroll
        for (int i = 0; i < C::MI; ++i)
#pragma unroll
            for (int j = 0; j < C::NI; ++j) mma_m16n8k16_bf16(acc[i][j], a[i], b[j]);
    }
}

// The pipelined K loop of one tile: `steps` stages loaded by `ld` (which walks K itself, one
// step per load call) and multiplied in order. Every thread commits one cp.async group per
// step (empty past the end), so wait_group<STAGES-2> always means "this step has landed".
template <class C, bool KMajor, class Loader>
__device__ __forceinline__ void mainloop(Loader& ld, stsm_bf16* smem, int steps, float (&acc)[C::MI][C::NI][4]) {
    const FragOffsets<C, KMajor> off;
#pragma unroll
    for (int s = 0; s < CBF_STAGES - 1; ++s) {
        if (s < steps) ld.load(smem + s * C::STAGE);
        cp_async_commit();
    }
    // The stage read this step and the one refilled (read CBF_STAGES - 1 steps later).
    stsm_bf16* read = smem;
    stsm_bf16* fill = smem + (CBF_STAGES - 1) * C::STAGE;
    stsm_bf16* const last = smem + (CBF_STAGES - 1) * C::STAGE;
    // M×N×K loop: BM×BN×32 per step.
    for (int step = 0; step < steps; ++step) {
        cp_async_wait<CBF_STAGES - 2>();
        __syncthreads();  // this step visible to all warps; the stage refilled below is free
        if (step + CBF_STAGES - 1 < steps) ld.load(fill);
        cp_async_commit();
        mma_stage<C, KMajor>(read, off, acc);
        read = read == last ? smem : read + C::STAGE;
        fill = fill == last ? smem : fill + C::STAGE;
    }
    cp_async_wait<0>();
    __syncthreads();  // the next work item's prologue overwrites the stages
}

// Vectors of 8 channels along K for the forward and input-gradient GEMMs (K = taps × vecs):
// the thread's vector column j of each stage, walked incrementally across taps.
struct TapWalk {
    int kv, cv, dt, dh, dw;  // K vector index, channel vector, tap coordinates

    __device__ __forceinline__ void start(const Conv3dBf16Params& p, int kv0, int vecs) {
        kv = kv0;
        const int tap = stsm_div(kv0, p.div_vecs);
        cv = kv0 - tap * vecs;
        const int th = stsm_div(tap, p.div_kw);
        dw = tap - th * p.k_w;
        dt = stsm_div(th, p.div_kh);
        dh = th - dt * p.k_h;
    }
    // Next stage: 4 vectors further along K (past the end the tap runs beyond the kernel,
    // which the loaders' kv < Kv test ignores).
    __device__ __forceinline__ void advance(const Conv3dBf16Params& p, int vecs) {
        kv += 4;
        cv += 4;
        while (cv >= vecs) {
            cv -= vecs;
            if (++dw == p.k_w) {
                dw = 0;
                if (++dh == p.k_h) {
                    dh = 0;
                    ++dt;
                }
            }
        }
    }
};

// A row outside the GEMM: every bound test fails.
#define CBF_FAR (-(1 << 28))

// ---------------------------------------------------------------------------------------
// Forward: A(m, k) = x at output position m, tap and channel k; B(k, n) = W[n][k].
// ---------------------------------------------------------------------------------------
template <class C>
struct FwdLoader {
    static constexpr int A_ROWS = C::BM * 4 / C::THREADS, B_ROWS = C::BN * 4 / C::THREADS;
    static constexpr int ROW_STEP = C::THREADS / 4;
    const Conv3dBf16Params& p;
    int j, row0, kvs;                      // vector column, first row, K vectors
    int base[A_ROWS], t0[A_ROWS], h0[A_ROWS], w0[A_ROWS];  // position (n, t0, h0, w0) of tap 0
    const stsm_bf16* wrow[B_ROWS];         // W row of each B row, or null past O
    TapWalk tap;

    __device__ FwdLoader(const Conv3dBf16Params& p_, int m0, int n0, int step0) : p(p_) {
        j = threadIdx.x & 3;
        row0 = threadIdx.x >> 2;
        const int vecs = p.in_chp >> 3;
        kvs = (p.k_t * p.k_h * p.k_w) * vecs;
        const int rows = p.batch * p.out_t * p.out_h * p.out_w;
#pragma unroll
        for (int r = 0; r < A_ROWS; ++r) {
            const int m = m0 + row0 + r * ROW_STEP;
            if (m < rows) {
                const int q1 = stsm_div(m, p.div_w), q2 = stsm_div(q1, p.div_h), nb = stsm_div(q2, p.div_t);
                const int zw = m - q1 * p.out_w, zh = q1 - q2 * p.out_h, zt = q2 - nb * p.out_t;
                t0[r] = zt * p.s_t - p.p_t;
                h0[r] = zh * p.s_h - p.p_h;
                w0[r] = zw * p.s_w - p.p_w + CBF_TAP_SHIFT;
                base[r] = ((nb * p.in_t + t0[r]) * p.in_h + h0[r]) * p.in_w + w0[r];
            } else {
                t0[r] = h0[r] = w0[r] = CBF_FAR;
                base[r] = 0;
            }
        }
#pragma unroll
        for (int r = 0; r < B_ROWS; ++r) {
            const int o = n0 + row0 + r * ROW_STEP;
            wrow[r] = o < p.out_ch ? p.w + (i64)o * kvs * 8 : nullptr;
        }
        tap.start(p, step0 * 4 + j, vecs);
    }

    __device__ __forceinline__ void load(stsm_bf16* stage) {
        stsm_bf16 *As = stage, *Bs = stage + C::A_ELEMS;
        const bool k_ok = tap.kv < kvs;
        const int tap_off = (tap.dt * p.in_h + tap.dh) * p.in_w + tap.dw;
#pragma unroll
        for (int r = 0; r < A_ROWS; ++r) {
            const bool ok = k_ok && (unsigned)(t0[r] + tap.dt) < (unsigned)p.in_t &&
                            (unsigned)(h0[r] + tap.dh) < (unsigned)p.in_h && (unsigned)(w0[r] + tap.dw) < (unsigned)p.in_w;
            const stsm_bf16* src = ok ? p.x + (base[r] + tap_off) * p.in_chp + tap.cv * 8 : p.x;
            cp_async_16(As + kc_offset(row0 + r * ROW_STEP, j), src, ok ? 16 : 0);
        }
#pragma unroll
        for (int r = 0; r < B_ROWS; ++r) {
            const bool ok = k_ok && wrow[r];
            cp_async_16(Bs + kc_offset(row0 + r * ROW_STEP, j), ok ? wrow[r] + tap.kv * 8 : p.w, ok ? 16 : 0);
        }
        tap.advance(p, p.in_chp >> 3);
    }
};

// ---------------------------------------------------------------------------------------
// Input gradient (gather): A(m, k) = gy at the output position whose tap k lands on input
// position m (0 where none does); B(k, n) = Wx[n][k] with Wx (C, taps, Op).
// ---------------------------------------------------------------------------------------
template <class C>
struct XbwdLoader {
    static constexpr int A_ROWS = C::BM * 4 / C::THREADS, B_ROWS = C::BN * 4 / C::THREADS;
    static constexpr int ROW_STEP = C::THREADS / 4;
    const Conv3dBf16Params& p;
    int j, row0, kvs;
    int tp[A_ROWS], hp[A_ROWS], wp[A_ROWS], nb_t[A_ROWS];  // padded input position, n · T'
    const stsm_bf16* wrow[B_ROWS];
    TapWalk tap;

    __device__ XbwdLoader(const Conv3dBf16Params& p_, int m0, int n0, int step0) : p(p_) {
        j = threadIdx.x & 3;
        row0 = threadIdx.x >> 2;
        const int vecs = p.out_chp >> 3;
        kvs = (p.k_t * p.k_h * p.k_w) * vecs;
        const int rows = p.batch * p.in_t * p.in_h * p.in_w;
#pragma unroll
        for (int r = 0; r < A_ROWS; ++r) {
            const int m = m0 + row0 + r * ROW_STEP;
            if (m < rows) {
                const int q1 = stsm_div(m, p.div_w), q2 = stsm_div(q1, p.div_h), nb = stsm_div(q2, p.div_t);
                wp[r] = m - q1 * p.in_w + p.p_w - CBF_TAP_SHIFT;
                hp[r] = q1 - q2 * p.in_h + p.p_h;
                tp[r] = q2 - nb * p.in_t + p.p_t;
                nb_t[r] = nb * p.out_t;
            } else {
                tp[r] = hp[r] = wp[r] = CBF_FAR;
                nb_t[r] = 0;
            }
        }
#pragma unroll
        for (int r = 0; r < B_ROWS; ++r) {
            const int c = n0 + row0 + r * ROW_STEP;
            wrow[r] = c < p.in_ch ? p.w + (i64)c * kvs * 8 : nullptr;
        }
        tap.start(p, step0 * 4 + j, vecs);
    }

    __device__ __forceinline__ void load(stsm_bf16* stage) {
        stsm_bf16 *As = stage, *Bs = stage + C::A_ELEMS;
        const bool k_ok = tap.kv < kvs;
#pragma unroll
        for (int r = 0; r < A_ROWS; ++r) {
            // Output z with z·s - p + d = input position, i.e. z·s = (position + p) - d.
            const int nt = tp[r] - tap.dt, nh = hp[r] - tap.dh, nw = wp[r] - tap.dw;
            bool ok = k_ok && nt >= 0 && nh >= 0 && nw >= 0;
            const int zt = stsm_div(stsm_imax(nt, 0), p.div_st), zh = stsm_div(stsm_imax(nh, 0), p.div_sh),
                      zw = stsm_div(stsm_imax(nw, 0), p.div_sw);
            ok = ok && zt * p.s_t == nt && zh * p.s_h == nh && zw * p.s_w == nw && zt < p.out_t && zh < p.out_h &&
                 zw < p.out_w;
            const stsm_bf16* src = ok ? p.gy + (((nb_t[r] + zt) * p.out_h + zh) * p.out_w + zw) * p.out_chp + tap.cv * 8 : p.gy;
            cp_async_16(As + kc_offset(row0 + r * ROW_STEP, j), src, ok ? 16 : 0);
        }
#pragma unroll
        for (int r = 0; r < B_ROWS; ++r) {
            const bool ok = k_ok && wrow[r];
            cp_async_16(Bs + kc_offset(row0 + r * ROW_STEP, j), ok ? wrow[r] + tap.kv * 8 : p.w, ok ? 16 : 0);
        }
        tap.advance(p, p.out_chp >> 3);
    }
};

// ---------------------------------------------------------------------------------------
// Weight gradient: A(m, k) = gy[k][m] (output channel m at output position k), B(k, n) =
// x at position k, tap and channel n. Both tiles are stored k-major ([32][BM], [32][BN]).
// ---------------------------------------------------------------------------------------
template <class C>
struct WbwdLoader {
    static constexpr int A_CHUNKS = C::BM / 8, B_CHUNKS = C::BN / 8;
    static constexpr int A_ROWS = CBF_BK * A_CHUNKS / C::THREADS, B_ROWS = CBF_BK * B_CHUNKS / C::THREADS;
    static constexpr int A_ROW_STEP = C::THREADS / A_CHUNKS, B_ROW_STEP = C::THREADS / B_CHUNKS;
    const Conv3dBf16Params& p;
    int positions, k0;        // K extent and the next step's first position
    int a_chunk, a_row0, b_chunk, b_row0;
    const stsm_bf16* gy_col;  // gy + this thread's channel vector, or null past Op
    bool n_ok;                // this thread's B column is inside taps·Cp
    int dt, dh, dw, cv;       // its tap and channel vector

    __device__ WbwdLoader(const Conv3dBf16Params& p_, int m0, int n0, int step0) : p(p_) {
        positions = p.batch * p.out_t * p.out_h * p.out_w;
        k0 = step0 * CBF_BK;
        a_chunk = threadIdx.x % A_CHUNKS;
        a_row0 = threadIdx.x / A_CHUNKS;
        b_chunk = threadIdx.x % B_CHUNKS;
        b_row0 = threadIdx.x / B_CHUNKS;
        const int o = m0 + a_chunk * 8;
        gy_col = o < p.out_chp ? p.gy + o : nullptr;
        const int vecs = p.in_chp >> 3, nv = (n0 >> 3) + b_chunk;
        n_ok = nv < p.k_t * p.k_h * p.k_w * vecs;
        const int tap = stsm_div(nv, p.div_vecs);
        cv = nv - tap * vecs;
        const int th = stsm_div(tap, p.div_kw);
        dw = tap - th * p.k_w + CBF_TAP_SHIFT;
        dt = stsm_div(th, p.div_kh);
        dh = th - dt * p.k_h;
    }

    __device__ __forceinline__ void load(stsm_bf16* stage) {
        stsm_bf16 *As = stage, *Bs = stage + C::A_ELEMS;
#pragma unroll
        for (int r = 0; r < A_ROWS; ++r) {
            const int row = a_row0 + r * A_ROW_STEP, k = k0 + row;
            const bool ok = gy_col && k < positions;
            cp_async_16(As + mn_offset<C::BM>(row, a_chunk), ok ? gy_col + k * p.out_chp : p.gy, ok ? 16 : 0);
        }
#pragma unroll
        for (int r = 0; r < B_ROWS; ++r) {
            const int row = b_row0 + r * B_ROW_STEP, k = k0 + row;
            const int q1 = stsm_div(k, p.div_w), q2 = stsm_div(q1, p.div_h), nb = stsm_div(q2, p.div_t);
            const int xw = (k - q1 * p.out_w) * p.s_w - p.p_w + dw;
            const int xh = (q1 - q2 * p.out_h) * p.s_h - p.p_h + dh;
            const int xt = (q2 - nb * p.out_t) * p.s_t - p.p_t + dt;
            const bool ok = n_ok && k < positions && (unsigned)xt < (unsigned)p.in_t && (unsigned)xh < (unsigned)p.in_h &&
                            (unsigned)xw < (unsigned)p.in_w;
            const stsm_bf16* src = ok ? p.x + (((nb * p.in_t + xt) * p.in_h + xh) * p.in_w + xw) * p.in_chp + cv * 8 : p.x;
            cp_async_16(Bs + mn_offset<C::BN>(row, b_chunk), src, ok ? 16 : 0);
        }
        k0 += CBF_BK;
    }
};

// ---------------------------------------------------------------------------------------
// The three kernels: item loop, main loop, epilogue.
// ---------------------------------------------------------------------------------------

// The grid-stride walk over (slice, tile row, tile column), tile column fastest (blocks in
// flight share their A rows). `body(m0, n0, split, step0, steps)`.
template <class C, class Body>
__device__ __forceinline__ void for_each_item(const Conv3dBf16Params& p, int rows, int cols, int total_steps,
                                              const Body& body) {
    const int tiles_n = (cols + C::BN - 1) / C::BN, tiles = ((rows + C::BM - 1) / C::BM) * tiles_n;
    for (int item = blockIdx.x; item < tiles * p.k_splits; item += gridDim.x) {
        const int split = stsm_div(item, p.div_tiles), tile = item - split * tiles;
        const int tm = stsm_div(tile, p.div_tiles_n), tn = tile - tm * tiles_n;
        const int step0 = split * p.split_steps;
        const int steps = stsm_imax(0, stsm_imin(total_steps, step0 + p.split_steps) - step0);
        body(tm * C::BM, tn * C::BN, split, step0, steps);
    }
}

// Fragment element e (0..3) of mma tile (i, j): row and column inside the block tile.
template <class C>
__device__ __forceinline__ void frag_pos(int i, int j, int e, int& row, int& col) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    row = (warp / C::WARPS_N) * C::WM + i * 16 + (lane >> 2) + (e >> 1) * 8;
    col = (warp % C::WARPS_N) * C::WN + j * 8 + (lane & 3) * 2;
}

// Stores of the forward and input-gradient tiles: rows are positions, columns channels.
// One slice: bias (if any), ReLU (if asked), bf16 pairs into (rows, cols_p) with the pad
// channels 0 (their accumulators are 0: the pad weights are), and the optional fp32 copy into
// (rows, cols). Several slices: fp32 partials (split, rows, cols_p) for the reduction kernel.
template <class C>
__device__ __forceinline__ void store_rows_tile(const Conv3dBf16Params& p, float (&acc)[C::MI][C::NI][4], int m0,
                                                int n0, int split, int rows, int cols, int cols_p,
                                                const float* bias, bool relu) {
#pragma unroll
    for (int i = 0; i < C::MI; ++i)
#pragma unroll
        for (int j = 0; j < C::NI; ++j)
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                int row, col;
                frag_pos<C>(i, j, h * 2, row, col);
                const int m = m0 + row, n = n0 + col;  // n even, cols_p a multiple of 8
                if (m >= rows || n >= cols_p) continue;
                float v0 = acc[i][j][h * 2], v1 = acc[i][j][h * 2 + 1];
                if (p.k_splits > 1) {
                    float* dst = p.partial + ((i64)split * rows + m) * cols_p + n;
                    dst[0] = v0, dst[1] = v1;
                    continue;
                }
                if (bias) {
                    if (n < cols) v0 += bias[n];
                    if (n + 1 < cols) v1 += bias[n + 1];
                }
                if (relu) {
                    v0 = v0 > 0.f ? v0 : 0.f;
                    v1 = v1 > 0.f ? v1 : 0.f;
                }
                *reinterpret_cast<u32*>(p.out + (i64)m * cols_p + n) = stsm_bf16x2_from_f32(v0, v1);
                if (p.out_f32) {
                    if (n < cols) p.out_f32[(i64)m * cols + n] = v0;
                    if (n + 1 < cols) p.out_f32[(i64)m * cols + n + 1] = v1;
                }
            }
}

template <class C>
__device__ void conv3d_fwd_bf16(const Conv3dBf16Params& p) {
    __shared__ CbfVec16 smem_raw[CBF_STAGES * C::STAGE / 8];
    stsm_bf16* smem = reinterpret_cast<stsm_bf16*>(smem_raw);
    const int rows = p.batch * p.out_t * p.out_h * p.out_w;
    const int total_steps = (p.k_t * p.k_h * p.k_w * p.in_chp + CBF_BK - 1) / CBF_BK;
    for_each_item<C>(p, rows, p.out_chp, total_steps, [&](int m0, int n0, int split, int step0, int steps) {
        float acc[C::MI][C::NI][4] = {};
        FwdLoader<C> ld(p, m0, n0, step0);
        mainloop<C, false>(ld, smem, steps, acc);
        store_rows_tile<C>(p, acc, m0, n0, split, rows, p.out_ch, p.out_chp, p.b, p.relu != 0);
    });
}

template <class C>
__device__ void conv3d_xbwd_bf16(const Conv3dBf16Params& p) {
    __shared__ CbfVec16 smem_raw[CBF_STAGES * C::STAGE / 8];
    stsm_bf16* smem = reinterpret_cast<stsm_bf16*>(smem_raw);
    const int rows = p.batch * p.in_t * p.in_h * p.in_w;
    const int total_steps = (p.k_t * p.k_h * p.k_w * p.out_chp + CBF_BK - 1) / CBF_BK;
    for_each_item<C>(p, rows, p.in_chp, total_steps, [&](int m0, int n0, int split, int step0, int steps) {
        float acc[C::MI][C::NI][4] = {};
        XbwdLoader<C> ld(p, m0, n0, step0);
        mainloop<C, false>(ld, smem, steps, acc);
        store_rows_tile<C>(p, acc, m0, n0, split, rows, p.in_ch, p.in_chp, nullptr, false);
    });
}

// Partials (split, O, taps·Cp) in fp32, always (the reduction also reorders to the
// engine's (O, C, KT, KH, KW)).
template <class C>
__device__ void conv3d_wbwd_bf16(const Conv3dBf16Params& p) {
    __shared__ CbfVec16 smem_raw[CBF_STAGES * C::STAGE / 8];
    stsm_bf16* smem = reinterpret_cast<stsm_bf16*>(smem_raw);
    const int cols = p.k_t * p.k_h * p.k_w * p.in_chp;
    const int positions = p.batch * p.out_t * p.out_h * p.out_w;
    const int total_steps = (positions + CBF_BK - 1) / CBF_BK;
    for_each_item<C>(p, p.out_ch, cols, total_steps, [&](int m0, int n0, int split, int step0, int steps) {
        float acc[C::MI][C::NI][4] = {};
        WbwdLoader<C> ld(p, m0, n0, step0);
        mainloop<C, true>(ld, smem, steps, acc);
#pragma unroll
        for (int i = 0; i < C::MI; ++i)
#pragma unroll
            for (int j = 0; j < C::NI; ++j)
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    int row, col;
                    frag_pos<C>(i, j, e, row, col);
                    const int o = m0 + row, n = n0 + col + (e & 1);
                    if (o < p.out_ch && n < cols) p.partial[((i64)split * p.out_ch + o) * cols + n] = acc[i][j][e];
                }
    });
}

// gw (O, C, KT, KH, KW) = Σ over slices, in slice order, of partial (split, O, taps·Cp).
__device__ void conv3d_wbwd_bf16_reduce_body(const Conv3dBf16Params& p) {
    const int taps = p.k_t * p.k_h * p.k_w, cols = taps * p.in_chp;
    const i64 n = (i64)p.out_ch * p.in_ch * taps, slice = (i64)p.out_ch * cols;
    for (i64 e = stsm_global_thread(); e < n; e += stsm_grid_threads()) {
        const int tap = (int)(e % taps);
        const i64 oc = e / taps;
        const int c = (int)(oc % p.in_ch), o = (int)(oc / p.in_ch);
        const float* src = p.partial + (i64)o * cols + tap * p.in_chp + c;
        float acc = 0.f;
        for (int s = 0; s < p.k_splits; ++s) acc += src[s * slice];
        p.out_f32[e] = acc;
    }
}

// The split-K epilogue of the forward (bias, ReLU) and input gradient: partial (split,
// rows, cols_p) summed in slice order, then stored as store_rows_tile does for one slice.
// Forward when p.w's rows are outputs: `fwd` selects the shapes.
__device__ void conv3d_bf16_splitk_store_body(const Conv3dBf16Params& p, bool fwd) {
    const int rows = fwd ? p.batch * p.out_t * p.out_h * p.out_w : p.batch * p.in_t * p.in_h * p.in_w;
    const int cols = fwd ? p.out_ch : p.in_ch, cols_p = fwd ? p.out_chp : p.in_chp;
    const i64 n = (i64)rows * cols_p, slice = n;
    for (i64 e = stsm_global_thread(); e < n; e += stsm_grid_threads()) {
        const int ch = (int)(e % cols_p);
        const i64 m = e / cols_p;
        float v = 0.f;
        for (int s = 0; s < p.k_splits; ++s) v += p.partial[s * slice + e];
        if (fwd && p.b && ch < cols) v += p.b[ch];
        if (fwd && p.relu) v = v > 0.f ? v : 0.f;
        p.out[e] = stsm_bf16_from_f32(v);
        if (p.out_f32 && ch < cols) p.out_f32[m * cols + ch] = v;
    }
}

// Tile configurations: 128×128 (8 warps of 64×32), 128×64 (4 warps of 64×32), 64×64 (4 warps
// of 32×32); the launcher picks one per shape class (src/backend/cuda/ops/conv3d_bf16.rs).
typedef TileConfig<128, 128, 64, 32> Tile128x128;
typedef TileConfig<128, 64, 64, 32> Tile128x64;
typedef TileConfig<64, 64, 32, 32> Tile64x64;

extern "C" __global__ void conv3d_fwd_bf16_128x128(Conv3dBf16Params p) { conv3d_fwd_bf16<Tile128x128>(p); }
extern "C" __global__ void conv3d_fwd_bf16_128x64(Conv3dBf16Params p) { conv3d_fwd_bf16<Tile128x64>(p); }
extern "C" __global__ void conv3d_fwd_bf16_64x64(Conv3dBf16Params p) { conv3d_fwd_bf16<Tile64x64>(p); }
extern "C" __global__ void conv3d_xbwd_bf16_128x128(Conv3dBf16Params p) { conv3d_xbwd_bf16<Tile128x128>(p); }
extern "C" __global__ void conv3d_xbwd_bf16_128x64(Conv3dBf16Params p) { conv3d_xbwd_bf16<Tile128x64>(p); }
extern "C" __global__ void conv3d_xbwd_bf16_64x64(Conv3dBf16Params p) { conv3d_xbwd_bf16<Tile64x64>(p); }
extern "C" __global__ void conv3d_wbwd_bf16_128x128(Conv3dBf16Params p) { conv3d_wbwd_bf16<Tile128x128>(p); }
extern "C" __global__ void conv3d_wbwd_bf16_128x64(Conv3dBf16Params p) { conv3d_wbwd_bf16<Tile128x64>(p); }
extern "C" __global__ void conv3d_wbwd_bf16_64x64(Conv3dBf16Params p) { conv3d_wbwd_bf16<Tile64x64>(p); }
extern "C" __global__ void conv3d_wbwd_bf16_reduce(Conv3dBf16Params p) { conv3d_wbwd_bf16_reduce_body(p); }
extern "C" __global__ void conv3d_fwd_bf16_splitk_store(Conv3dBf16Params p) { conv3d_bf16_splitk_store_body(p, true); }
extern "C" __global__ void conv3d_xbwd_bf16_splitk_store(Conv3dBf16Params p) { conv3d_bf16_splitk_store_body(p, false); }
