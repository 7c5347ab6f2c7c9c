;; Transpose of a rows x cols float32 matrix: out[c][r] = in[r][c], in 4 x 4
;; blocks (four 4-lane loads, two rounds of lane shuffles, four 4-lane
;; stores: wasm SIMD), the edges that do not fill a block one value at a
;; time. tfjs-backend-wasm's own Transpose moves one value per iteration with
;; a strided store, about 2 ns per float; the matmul overrides transpose
;; operands and products on every training step (fast_matmul.ts).
;;
;; Pointers are byte offsets into tfjs's heap (the memory is imported); the
;; output may not alias the input. A transpose moves values and computes
;; nothing, so the result is exact. scripts/build-wasm-kernels.ts compiles
;; this file twice: MEMORY is "(memory 1)" for tfjs's plain build and
;; "(memory 1 65536 shared)" for its threaded build.
(module
  (import "env" "memory" MEMORY)
  (func (export "transpose") (param $src i32) (param $dst i32) (param $rows i32) (param $cols i32)
    (local $i i32) (local $j i32) (local $rows4 i32) (local $cols4 i32)
    (local $rowBytes i32) (local $colBytes i32) (local $p i32) (local $q i32)
    (local $tile i32) (local $tileEnd i32)
    (local $r0 v128) (local $r1 v128) (local $r2 v128) (local $r3 v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $rows4 (i32.and (local.get $rows) (i32.const -4)))
    (local.set $cols4 (i32.and (local.get $cols) (i32.const -4)))
    (local.set $rowBytes (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $colBytes (i32.shl (local.get $rows) (i32.const 2)))
    ;; Full 4 x 4 blocks: rows i..i+3 of the input become columns i..i+3 of
    ;; the output. Columns go in tiles of 64, all rows per tile, so the 64
    ;; output rows being filled stay in the L1 cache.
    (block $tilesDone
      (loop $tiles
        (br_if $tilesDone (i32.ge_u (local.get $tile) (local.get $cols4)))
        (local.set $tileEnd (select (local.get $cols4) (i32.add (local.get $tile) (i32.const 64))
          (i32.gt_u (i32.add (local.get $tile) (i32.const 64)) (local.get $cols4))))
    (local.set $i (i32.const 0))
    (block $iDone
      (loop $iLoop
        (br_if $iDone (i32.ge_u (local.get $i) (local.get $rows4)))
        (local.set $j (local.get $tile))
        (block $jDone
          (loop $jLoop
            (br_if $jDone (i32.ge_u (local.get $j) (local.get $tileEnd)))
            (local.set $p (i32.add (local.get $src)
              (i32.shl (i32.add (i32.mul (local.get $i) (local.get $cols)) (local.get $j)) (i32.const 2))))
            (local.set $r0 (v128.load (local.get $p)))
            (local.set $r1 (v128.load (i32.add (local.get $p) (local.get $rowBytes))))
            (local.set $r2 (v128.load (i32.add (local.get $p) (i32.shl (local.get $rowBytes) (i32.const 1)))))
            (local.set $r3 (v128.load (i32.add (local.get $p) (i32.mul (local.get $rowBytes) (i32.const 3)))))
            ;; (a0 b0 a1 b1), (a2 b2 a3 b3), (c0 d0 c1 d1), (c2 d2 c3 d3)
            (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r0) (local.get $r1)))
            (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r0) (local.get $r1)))
            (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r2) (local.get $r3)))
            (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r2) (local.get $r3)))
            (local.set $q (i32.add (local.get $dst)
              (i32.shl (i32.add (i32.mul (local.get $j) (local.get $rows)) (local.get $i)) (i32.const 2))))
            ;; (a0 b0 c0 d0) ... (a3 b3 c3 d3)
            (v128.store (local.get $q)
              (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
            (v128.store (i32.add (local.get $q) (local.get $colBytes))
              (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
            (v128.store (i32.add (local.get $q) (i32.shl (local.get $colBytes) (i32.const 1)))
              (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
            (v128.store (i32.add (local.get $q) (i32.mul (local.get $colBytes) (i32.const 3)))
              (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $jLoop)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $iLoop)))
        (local.set $tile (local.get $tileEnd))
        (br $tiles)))
    ;; The edges, one value at a time: the last cols % 4 columns of the block rows, then the last rows % 4 rows whole.
    (local.set $i (i32.const 0))
    (block $eDone
      (loop $eLoop
        (br_if $eDone (i32.ge_u (local.get $i) (local.get $rows)))
        (local.set $j (select (local.get $cols4) (i32.const 0) (i32.lt_u (local.get $i) (local.get $rows4))))
        (block $rowDone
          (loop $rowLoop
            (br_if $rowDone (i32.ge_u (local.get $j) (local.get $cols)))
            (f32.store
              (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $j) (local.get $rows)) (local.get $i)) (i32.const 2)))
              (f32.load (i32.add (local.get $src) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $cols)) (local.get $j)) (i32.const 2)))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $rowLoop)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $eLoop)))))
