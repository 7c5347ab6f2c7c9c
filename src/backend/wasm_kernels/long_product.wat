;; out += a @ b for a long inner dimension and a small result: a is rows x
;; depth, b is depth x cols, out is rows x cols (all float32, row-major), cols
;; a multiple of 16. This is the weight gradient of a convolution with few
;; input channels (Conv2DBackpropFilter of a first layer: 9 patch rows against
;; 32 filters, summed over 100,000 pixels at batch 128). XNNPACK computes
;; such a product at a fraction of its speed: it repacks its right operand,
;; the whole long b, on every call, and streams it again for every few rows
;; of a. Here b is read in slices of 256 inner steps by 16 columns (16 KB,
;; which stays in the L1 cache while every pair of rows of a takes its turn):
;; per inner step two values of a (splatted) times four vectors of b into
;; eight accumulators (wasm SIMD).
;;
;; An odd last row is computed as a pair with itself (only the first sum is
;; added to out). The sum runs
;; in float32: each slice's 256 steps in order into fresh accumulators, then
;; the slice's sum added to out, which keeps the rounding error near that of
;; a 256-term sum plus a depth/256-term sum instead of a depth-term one.
;; Pointers are byte offsets into tfjs's heap (the memory is imported).
;; scripts/build-wasm-kernels.ts compiles this file twice: MEMORY is
;; "(memory 1)" for tfjs's plain build and "(memory 1 65536 shared)" for its
;; threaded build.
(module
  (import "env" "memory" MEMORY)
  (func (export "longProduct") (param $a i32) (param $b i32) (param $out i32) (param $rows i32) (param $depth i32) (param $cols i32)
    (local $slice i32) (local $sliceEnd i32) (local $r i32) (local $r2 i32) (local $col i32) (local $k i32)
    (local $row0 i32) (local $row1 i32) (local $out0 i32) (local $out1 i32) (local $p i32) (local $rowBytes i32)
    (local $s0 v128) (local $s1 v128) (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128)
    (local $c4 v128) (local $c5 v128) (local $c6 v128) (local $c7 v128)
    (local.set $rowBytes (i32.shl (local.get $cols) (i32.const 2)))
    (block $slicesDone
      (loop $slices
        (br_if $slicesDone (i32.ge_u (local.get $slice) (local.get $depth)))
        (local.set $sliceEnd (i32.add (local.get $slice) (i32.const 256)))
        (local.set $sliceEnd (select (local.get $depth) (local.get $sliceEnd) (i32.gt_u (local.get $sliceEnd) (local.get $depth))))
        (local.set $col (i32.const 0))
        (block $colsDone
          (loop $colBlocks
            (br_if $colsDone (i32.ge_u (local.get $col) (local.get $cols)))
            (local.set $r (i32.const 0))
            (block $rowsDone
              (loop $rowPairs
                (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
                (local.set $r2 (i32.add (local.get $r) (i32.const 1)))
                (local.set $r2 (select (local.get $r) (local.get $r2) (i32.ge_u (local.get $r2) (local.get $rows))))
                (local.set $row0 (i32.add (local.get $a) (i32.shl (i32.mul (local.get $r) (local.get $depth)) (i32.const 2))))
                (local.set $row1 (i32.add (local.get $a) (i32.shl (i32.mul (local.get $r2) (local.get $depth)) (i32.const 2))))
                (local.set $out0 (i32.add (local.get $out)
                  (i32.shl (i32.add (i32.mul (local.get $r) (local.get $cols)) (local.get $col)) (i32.const 2))))
                (local.set $out1 (i32.add (local.get $out)
                  (i32.shl (i32.add (i32.mul (local.get $r2) (local.get $cols)) (local.get $col)) (i32.const 2))))
                (local.set $c0 (v128.const f32x4 0 0 0 0))
                (local.set $c1 (v128.const f32x4 0 0 0 0))
                (local.set $c2 (v128.const f32x4 0 0 0 0))
                (local.set $c3 (v128.const f32x4 0 0 0 0))
                (local.set $c4 (v128.const f32x4 0 0 0 0))
                (local.set $c5 (v128.const f32x4 0 0 0 0))
                (local.set $c6 (v128.const f32x4 0 0 0 0))
                (local.set $c7 (v128.const f32x4 0 0 0 0))
                (local.set $k (local.get $slice))
                (local.set $p (i32.add (local.get $b)
                  (i32.shl (i32.add (i32.mul (local.get $k) (local.get $cols)) (local.get $col)) (i32.const 2))))
                (block $kDone
                  (loop $kLoop
                    (br_if $kDone (i32.ge_u (local.get $k) (local.get $sliceEnd)))
                    (local.set $s0 (f32x4.splat (f32.load (i32.add (local.get $row0) (i32.shl (local.get $k) (i32.const 2))))))
                    (local.set $s1 (f32x4.splat (f32.load (i32.add (local.get $row1) (i32.shl (local.get $k) (i32.const 2))))))
                    (local.set $b0 (v128.load (local.get $p)))
                    (local.set $b1 (v128.load offset=16 (local.get $p)))
                    (local.set $b2 (v128.load offset=32 (local.get $p)))
                    (local.set $b3 (v128.load offset=48 (local.get $p)))
                    (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $s0) (local.get $b0))))
                    (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $s0) (local.get $b1))))
                    (local.set $c2 (f32x4.add (local.get $c2) (f32x4.mul (local.get $s0) (local.get $b2))))
                    (local.set $c3 (f32x4.add (local.get $c3) (f32x4.mul (local.get $s0) (local.get $b3))))
                    (local.set $c4 (f32x4.add (local.get $c4) (f32x4.mul (local.get $s1) (local.get $b0))))
                    (local.set $c5 (f32x4.add (local.get $c5) (f32x4.mul (local.get $s1) (local.get $b1))))
                    (local.set $c6 (f32x4.add (local.get $c6) (f32x4.mul (local.get $s1) (local.get $b2))))
                    (local.set $c7 (f32x4.add (local.get $c7) (f32x4.mul (local.get $s1) (local.get $b3))))
                    (local.set $p (i32.add (local.get $p) (local.get $rowBytes)))
                    (local.set $k (i32.add (local.get $k) (i32.const 1)))
                    (br $kLoop)))
                (v128.store (local.get $out0) (f32x4.add (v128.load (local.get $out0)) (local.get $c0)))
                (v128.store offset=16 (local.get $out0) (f32x4.add (v128.load offset=16 (local.get $out0)) (local.get $c1)))
                (v128.store offset=32 (local.get $out0) (f32x4.add (v128.load offset=32 (local.get $out0)) (local.get $c2)))
                (v128.store offset=48 (local.get $out0) (f32x4.add (v128.load offset=48 (local.get $out0)) (local.get $c3)))
                ;; An odd last row (r2 = r) was already added above.
                (if (i32.ne (local.get $r2) (local.get $r))
                  (then
                  (v128.store (local.get $out1) (f32x4.add (v128.load (local.get $out1)) (local.get $c4)))
                  (v128.store offset=16 (local.get $out1) (f32x4.add (v128.load offset=16 (local.get $out1)) (local.get $c5)))
                  (v128.store offset=32 (local.get $out1) (f32x4.add (v128.load offset=32 (local.get $out1)) (local.get $c6)))
                  (v128.store offset=48 (local.get $out1) (f32x4.add (v128.load offset=48 (local.get $out1)) (local.get $c7)))))
                (local.set $r (i32.add (local.get $r) (i32.const 2)))
                (br $rowPairs)))
            (local.set $col (i32.add (local.get $col) (i32.const 16)))
            (br $colBlocks)))
        (local.set $slice (local.get $sliceEnd))
        (br $slices)))))
