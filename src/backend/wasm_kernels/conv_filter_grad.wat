;; The weight gradient of a stride-1 convolution (Conv2DBackpropFilter)
;; straight from the NHWC tensors, without a patch matrix:
;;
;;   out[fy, fx, ci, co] += sum over n, oy, ox of
;;     x[cell(n, oy, ox) + fy * columns + fx, ci] * dy[n, oy, ox, co]
;;
;; x is the input laid out on conv2d_backprop_filter.ts's "shifted grid"
;; (each sample's rows with zero padding around them, `columns` cells per
;; row, `cellsPerSample` cells per sample, inC floats per cell), the pointer
;; already moved to the cell of output pixel (0, 0, 0) under tap (0, 0), so
;; cell(n, oy, ox) = n * cellsPerSample + oy * columns + ox; dy is the plain
;; [n, outH, outW, outC] tensor. For one tap, the x values under it are one
;; contiguous run of cells per output row, so no im2col copy is needed.
;;
;; Per sample, pair of patch rows (rows (fy, fx, ci) of the result, in
;; order: two channels of one tap, or the last channel of one tap and the
;; first of the next, so a single input channel wastes nothing) and block of
;; 16 filters, the sample's output pixels go by in order: two splatted x
;; values times four vectors of dy into eight accumulators (wasm SIMD). A sample's x and dy
;; (tens of KB) stay in the cache over its taps and channels. Each sample's
;; sum (outH * outW terms) is added to out, which keeps the rounding error
;; near that of a per-sample sum plus a batch-long one. An odd last patch
;; row is computed as a pair with itself (only the first sum is added).
;; outC must be a multiple of 16. Pointers are byte offsets into tfjs's heap
;; (the memory is imported). scripts/build-wasm-kernels.ts compiles this file
;; twice: MEMORY is "(memory 1)" for tfjs's plain build and
;; "(memory 1 65536 shared)" for its threaded build.
(module
  (import "env" "memory" MEMORY)
  ;; Byte offset in x, from the cell of output pixel (0, 0, 0), of patch row r = (fy * fw + fx) * inC + ci.
  (func $rowOffset (param $r i32) (param $inC i32) (param $fw i32) (param $columns i32) (result i32)
    (local $tap i32)
    (local.set $tap (i32.div_u (local.get $r) (local.get $inC)))
    (i32.shl
      (i32.add
        (i32.mul (i32.add (i32.mul (i32.div_u (local.get $tap) (local.get $fw)) (local.get $columns)) (i32.rem_u (local.get $tap) (local.get $fw))) (local.get $inC))
        (i32.rem_u (local.get $r) (local.get $inC)))
      (i32.const 2)))
  (func (export "convFilterGrad")
    (param $x i32) (param $dy i32) (param $out i32) (param $samples i32) (param $outH i32) (param $outW i32)
    (param $columns i32) (param $cellsPerSample i32) (param $inC i32) (param $outC i32) (param $fh i32) (param $fw i32)
    (local $n i32) (local $r i32) (local $r2 i32) (local $patchRows i32) (local $x0 i32) (local $o i32) (local $oy i32) (local $ox i32)
    (local $cellBytes i32) (local $pixelBytes i32) (local $xRowBytes i32) (local $dyRowBytes i32)
    (local $xSample i32) (local $dySample i32) (local $xp i32) (local $dyp i32)
    (local $out0 i32) (local $out1 i32) (local $pairBytes i32)
    (local $s0 v128) (local $s1 v128) (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $c0 v128) (local $c1 v128) (local $c2v v128) (local $c3 v128)
    (local $c4 v128) (local $c5 v128) (local $c6 v128) (local $c7 v128)
    (local.set $cellBytes (i32.shl (local.get $inC) (i32.const 2)))
    (local.set $patchRows (i32.mul (i32.mul (local.get $fh) (local.get $fw)) (local.get $inC)))
    (local.set $pixelBytes (i32.shl (local.get $outC) (i32.const 2)))
    (local.set $xRowBytes (i32.mul (local.get $columns) (local.get $cellBytes)))
    (local.set $dyRowBytes (i32.mul (local.get $outW) (local.get $pixelBytes)))
    (block $samplesDone
      (loop $samplesLoop
        (br_if $samplesDone (i32.ge_u (local.get $n) (local.get $samples)))
        (local.set $xSample (i32.add (local.get $x) (i32.mul (i32.mul (local.get $n) (local.get $cellsPerSample)) (local.get $cellBytes))))
        (local.set $dySample (i32.add (local.get $dy) (i32.mul (i32.mul (local.get $n) (local.get $outH)) (local.get $dyRowBytes))))
        (local.set $r (i32.const 0))
        (loop $rowPairs
          (local.set $r2 (i32.add (local.get $r) (i32.const 1)))
          (local.set $r2 (select (local.get $r) (local.get $r2) (i32.ge_u (local.get $r2) (local.get $patchRows))))
          (local.set $x0 (call $rowOffset (local.get $r) (local.get $inC) (local.get $fw) (local.get $columns)))
          (local.set $pairBytes (i32.sub (call $rowOffset (local.get $r2) (local.get $inC) (local.get $fw) (local.get $columns)) (local.get $x0)))
          (local.set $o (i32.const 0))
          (loop $filterBlocks
            (local.set $c0 (v128.const f32x4 0 0 0 0))
            (local.set $c1 (v128.const f32x4 0 0 0 0))
            (local.set $c2v (v128.const f32x4 0 0 0 0))
            (local.set $c3 (v128.const f32x4 0 0 0 0))
            (local.set $c4 (v128.const f32x4 0 0 0 0))
            (local.set $c5 (v128.const f32x4 0 0 0 0))
            (local.set $c6 (v128.const f32x4 0 0 0 0))
            (local.set $c7 (v128.const f32x4 0 0 0 0))
            (local.set $oy (i32.const 0))
            (loop $rows
              (local.set $xp (i32.add (i32.add (local.get $xSample) (i32.mul (local.get $oy) (local.get $xRowBytes))) (local.get $x0)))
              (local.set $dyp (i32.add (i32.add (local.get $dySample) (i32.mul (local.get $oy) (local.get $dyRowBytes))) (i32.shl (local.get $o) (i32.const 2))))
              (local.set $ox (local.get $outW))
              (loop $pixels
                (local.set $s0 (v128.load32_splat (local.get $xp)))
                (local.set $s1 (v128.load32_splat (i32.add (local.get $xp) (local.get $pairBytes))))
                (local.set $b0 (v128.load (local.get $dyp)))
                (local.set $b1 (v128.load offset=16 (local.get $dyp)))
                (local.set $b2 (v128.load offset=32 (local.get $dyp)))
                (local.set $b3 (v128.load offset=48 (local.get $dyp)))
                (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $s0) (local.get $b0))))
                (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $s0) (local.get $b1))))
                (local.set $c2v (f32x4.add (local.get $c2v) (f32x4.mul (local.get $s0) (local.get $b2))))
                (local.set $c3 (f32x4.add (local.get $c3) (f32x4.mul (local.get $s0) (local.get $b3))))
                (local.set $c4 (f32x4.add (local.get $c4) (f32x4.mul (local.get $s1) (local.get $b0))))
                (local.set $c5 (f32x4.add (local.get $c5) (f32x4.mul (local.get $s1) (local.get $b1))))
                (local.set $c6 (f32x4.add (local.get $c6) (f32x4.mul (local.get $s1) (local.get $b2))))
                (local.set $c7 (f32x4.add (local.get $c7) (f32x4.mul (local.get $s1) (local.get $b3))))
                (local.set $xp (i32.add (local.get $xp) (local.get $cellBytes)))
                (local.set $dyp (i32.add (local.get $dyp) (local.get $pixelBytes)))
                (local.set $ox (i32.sub (local.get $ox) (i32.const 1)))
                (br_if $pixels (local.get $ox)))
              (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
              (br_if $rows (i32.lt_u (local.get $oy) (local.get $outH))))
            ;; out[r, o .. o + 16] and out[r2, ...] of the [patchRows, outC] result.
            (local.set $out0 (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (local.get $r) (local.get $outC)) (local.get $o)) (i32.const 2))))
            (v128.store (local.get $out0) (f32x4.add (v128.load (local.get $out0)) (local.get $c0)))
            (v128.store offset=16 (local.get $out0) (f32x4.add (v128.load offset=16 (local.get $out0)) (local.get $c1)))
            (v128.store offset=32 (local.get $out0) (f32x4.add (v128.load offset=32 (local.get $out0)) (local.get $c2v)))
            (v128.store offset=48 (local.get $out0) (f32x4.add (v128.load offset=48 (local.get $out0)) (local.get $c3)))
            ;; An odd last row (r2 = r) was already added above.
            (if (i32.ne (local.get $r2) (local.get $r))
              (then
                (local.set $out1 (i32.add (local.get $out0) (local.get $pixelBytes)))
                (v128.store (local.get $out1) (f32x4.add (v128.load (local.get $out1)) (local.get $c4)))
                (v128.store offset=16 (local.get $out1) (f32x4.add (v128.load offset=16 (local.get $out1)) (local.get $c5)))
                (v128.store offset=32 (local.get $out1) (f32x4.add (v128.load offset=32 (local.get $out1)) (local.get $c6)))
                (v128.store offset=48 (local.get $out1) (f32x4.add (v128.load offset=48 (local.get $out1)) (local.get $c7)))))
            (local.set $o (i32.add (local.get $o) (i32.const 16)))
            (br_if $filterBlocks (i32.lt_u (local.get $o) (local.get $outC))))
          (local.set $r (i32.add (local.get $r) (i32.const 2)))
          (br_if $rowPairs (i32.lt_u (local.get $r) (local.get $patchRows))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $samplesLoop)))))
