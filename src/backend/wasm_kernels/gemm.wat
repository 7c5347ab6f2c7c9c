;; c = a @ b on float32 row-major matrices in tfjs's wasm heap (the memory is
;; imported): a is m x k, b is k x n, c is m x n.
;;
;; Why: XNNPACK (tfjs's matmul) packs its right operand into its own layout on
;; every call with a new tensor, and in training every weight and gradient is
;; a new tensor each step; for the 784 x 256 first layer the packing costs
;; about 40% of the product. This kernel reads b where it is, row-major.
;;
;; The same values as XNNPACK's wasm SIMD GEMM, bit for bit: each output is
;; its own float32 accumulator, starting at +0, to which a[i][p] * b[p][j] is
;; added for p = 0, 1, ..., k - 1 in order (a multiply, then an add: wasm has
;; no fused multiply-add), which is how XNNPACK's micro-kernels sum (their
;; packed bias is 0 when there is none, as in tfjs's BatchMatMul). Tested
;; against the stock kernel in test/backend/gemm.test.ts.
;;
;; Tiles of 4 rows x 8 columns (8 accumulators of 4 lanes, the 8 values of
;; b's row loaded once for the 4 rows, each a value splatted); the last m mod 4
;; rows by tiles of 1 x 8; the last n mod 8 columns one value at a time.
;; Pointers are byte offsets; c may not alias a or b.
;; scripts/build-wasm-kernels.ts compiles this file twice: MEMORY is
;; "(memory 1)" for tfjs's plain build and "(memory 1 65536 shared)" for its
;; threaded build.
(module
  (import "env" "memory" MEMORY)

  (func (export "gemm") (param $a i32) (param $b i32) (param $c i32) (param $m i32) (param $k i32) (param $n i32)
    (local $rs i32) (local $i i32) (local $rowBytes i32)
    ;; Bytes from one row of a to the next.
    (local.set $rs (i32.shl (local.get $k) (i32.const 2)))
    (local.set $rowBytes (i32.shl (local.get $n) (i32.const 2)))
    (block $blocksDone
      (loop $blocks
        (br_if $blocksDone (i32.gt_u (i32.add (local.get $i) (i32.const 4)) (local.get $m)))
        (call $rows4
          (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $rs))) (local.get $rs)
          (local.get $b) (i32.add (local.get $c) (i32.mul (local.get $i) (local.get $rowBytes)))
          (local.get $k) (local.get $rowBytes))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $blocks)))
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $m)))
        (call $rows1
          (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $rs)))
          (local.get $b) (i32.add (local.get $c) (i32.mul (local.get $i) (local.get $rowBytes)))
          (local.get $k) (local.get $rowBytes))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows))))

  ;; Four rows of c (starting at $c) from the four rows of a starting at $a ($rs bytes apart).
  (func $rows4 (param $a i32) (param $rs i32) (param $b i32) (param $c i32) (param $k i32) (param $rowBytes i32)
    (local $j i32) (local $simdBytes i32) (local $p i32) (local $pa i32) (local $pb i32) (local $rs2 i32) (local $rs3 i32)
    (local $va v128) (local $b0 v128) (local $b1 v128)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local.set $simdBytes (i32.and (local.get $rowBytes) (i32.const -32)))
    (local.set $rs2 (i32.shl (local.get $rs) (i32.const 1)))
    (local.set $rs3 (i32.add (local.get $rs2) (local.get $rs)))
    (block $colsDone
      (loop $cols
        (br_if $colsDone (i32.ge_u (local.get $j) (local.get $simdBytes)))
        (local.set $c00 (v128.const f32x4 0 0 0 0)) (local.set $c01 (v128.const f32x4 0 0 0 0))
        (local.set $c10 (v128.const f32x4 0 0 0 0)) (local.set $c11 (v128.const f32x4 0 0 0 0))
        (local.set $c20 (v128.const f32x4 0 0 0 0)) (local.set $c21 (v128.const f32x4 0 0 0 0))
        (local.set $c30 (v128.const f32x4 0 0 0 0)) (local.set $c31 (v128.const f32x4 0 0 0 0))
        (local.set $pa (local.get $a))
        (local.set $pb (i32.add (local.get $b) (local.get $j)))
        (local.set $p (local.get $k))
        (block $kDone
          (loop $inner
            (br_if $kDone (i32.eqz (local.get $p)))
            (local.set $b0 (v128.load (local.get $pb)))
            (local.set $b1 (v128.load offset=16 (local.get $pb)))
            (local.set $va (v128.load32_splat (local.get $pa)))
            (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $va) (local.get $b0))))
            (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $va) (local.get $b1))))
            (local.set $va (v128.load32_splat (i32.add (local.get $pa) (local.get $rs))))
            (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $va) (local.get $b0))))
            (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $va) (local.get $b1))))
            (local.set $va (v128.load32_splat (i32.add (local.get $pa) (local.get $rs2))))
            (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $va) (local.get $b0))))
            (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $va) (local.get $b1))))
            (local.set $va (v128.load32_splat (i32.add (local.get $pa) (local.get $rs3))))
            (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $va) (local.get $b0))))
            (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $va) (local.get $b1))))
            (local.set $pa (i32.add (local.get $pa) (i32.const 4)))
            (local.set $pb (i32.add (local.get $pb) (local.get $rowBytes)))
            (local.set $p (i32.sub (local.get $p) (i32.const 1)))
            (br $inner)))
        (local.set $pb (i32.add (local.get $c) (local.get $j)))
        (v128.store (local.get $pb) (local.get $c00))
        (v128.store offset=16 (local.get $pb) (local.get $c01))
        (local.set $pb (i32.add (local.get $pb) (local.get $rowBytes)))
        (v128.store (local.get $pb) (local.get $c10))
        (v128.store offset=16 (local.get $pb) (local.get $c11))
        (local.set $pb (i32.add (local.get $pb) (local.get $rowBytes)))
        (v128.store (local.get $pb) (local.get $c20))
        (v128.store offset=16 (local.get $pb) (local.get $c21))
        (local.set $pb (i32.add (local.get $pb) (local.get $rowBytes)))
        (v128.store (local.get $pb) (local.get $c30))
        (v128.store offset=16 (local.get $pb) (local.get $c31))
        (local.set $j (i32.add (local.get $j) (i32.const 32)))
        (br $cols)))
    (call $scalarColumns (local.get $a) (local.get $b) (local.get $c) (local.get $k) (local.get $rowBytes) (local.get $simdBytes))
    (call $scalarColumns (i32.add (local.get $a) (local.get $rs)) (local.get $b)
      (i32.add (local.get $c) (local.get $rowBytes)) (local.get $k) (local.get $rowBytes) (local.get $simdBytes))
    (call $scalarColumns (i32.add (local.get $a) (local.get $rs2)) (local.get $b)
      (i32.add (local.get $c) (i32.shl (local.get $rowBytes) (i32.const 1))) (local.get $k) (local.get $rowBytes) (local.get $simdBytes))
    (call $scalarColumns (i32.add (local.get $a) (local.get $rs3)) (local.get $b)
      (i32.add (local.get $c) (i32.mul (local.get $rowBytes) (i32.const 3))) (local.get $k) (local.get $rowBytes) (local.get $simdBytes)))

  ;; One row of c (at $c) from the row of a at $a.
  (func $rows1 (param $a i32) (param $b i32) (param $c i32) (param $k i32) (param $rowBytes i32)
    (local $j i32) (local $simdBytes i32) (local $p i32) (local $pa i32) (local $pb i32)
    (local $va v128) (local $c0 v128) (local $c1 v128)
    (local.set $simdBytes (i32.and (local.get $rowBytes) (i32.const -32)))
    (block $colsDone
      (loop $cols
        (br_if $colsDone (i32.ge_u (local.get $j) (local.get $simdBytes)))
        (local.set $c0 (v128.const f32x4 0 0 0 0))
        (local.set $c1 (v128.const f32x4 0 0 0 0))
        (local.set $pa (local.get $a))
        (local.set $pb (i32.add (local.get $b) (local.get $j)))
        (local.set $p (local.get $k))
        (block $kDone
          (loop $inner
            (br_if $kDone (i32.eqz (local.get $p)))
            (local.set $va (v128.load32_splat (local.get $pa)))
            (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $va) (v128.load (local.get $pb)))))
            (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $va) (v128.load offset=16 (local.get $pb)))))
            (local.set $pa (i32.add (local.get $pa) (i32.const 4)))
            (local.set $pb (i32.add (local.get $pb) (local.get $rowBytes)))
            (local.set $p (i32.sub (local.get $p) (i32.const 1)))
            (br $inner)))
        (v128.store (i32.add (local.get $c) (local.get $j)) (local.get $c0))
        (v128.store offset=16 (i32.add (local.get $c) (local.get $j)) (local.get $c1))
        (local.set $j (i32.add (local.get $j) (i32.const 32)))
        (br $cols)))
    (call $scalarColumns (local.get $a) (local.get $b) (local.get $c) (local.get $k) (local.get $rowBytes) (local.get $simdBytes)))

  ;; One row of c from byte column $j on, one value at a time.
  (func $scalarColumns (param $a i32) (param $b i32) (param $c i32) (param $k i32) (param $rowBytes i32) (param $j i32)
    (local $p i32) (local $pa i32) (local $pb i32) (local $acc f32)
    (block $colsDone
      (loop $cols
        (br_if $colsDone (i32.ge_u (local.get $j) (local.get $rowBytes)))
        (local.set $acc (f32.const 0))
        (local.set $pa (local.get $a))
        (local.set $pb (i32.add (local.get $b) (local.get $j)))
        (local.set $p (local.get $k))
        (block $kDone
          (loop $inner
            (br_if $kDone (i32.eqz (local.get $p)))
            (local.set $acc (f32.add (local.get $acc) (f32.mul (f32.load (local.get $pa)) (f32.load (local.get $pb)))))
            (local.set $pa (i32.add (local.get $pa) (i32.const 4)))
            (local.set $pb (i32.add (local.get $pb) (local.get $rowBytes)))
            (local.set $p (i32.sub (local.get $p) (i32.const 1)))
            (br $inner)))
        (f32.store (i32.add (local.get $c) (local.get $j)) (local.get $acc))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $cols))))
)
