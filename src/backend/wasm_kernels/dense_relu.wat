;; A dense layer's bias and ReLU in one pass each way, for the whole-step
;; training path (training/dense_chain_step.ts), on rows x cols float32
;; matrices in tfjs's wasm heap (the memory is imported), 4 lanes at a time
;; (wasm SIMD), the last cols mod 4 columns of each row one value at a time.
;;
;;   bias_relu:      y[r][c] = max(x[r][c] + bias[c], 0)          (Add, then Relu)
;;   relu_bias_grad: dx[r][c] = dy[r][c] * step(y[r][c])           (Step of the
;;                   pre-activation, then Multiply: y > 0 exactly where x + bias > 0,
;;                   and y is NaN exactly where x + bias is)
;;                   dBias[c] = sum over r of dx[r][c], r = 0, 1, ... from +0
;;                   (what the Sum kernel computes for the bias gradient)
;;
;; Each value is the same float32 operation as in the kernels it replaces, in
;; the same order (wasm has no fused multiply-add), so the results are the
;; same bit for bit (NaN payloads aside). As tfjs's wasm kernels: relu is
;; wasm's max with +0 (NaN stays NaN, -0 becomes +0), step(v) is NaN for a
;; NaN, else v > 0 ? 1 : 0. A NaN must go through: the training loop fails a
;; phase whose loss turns NaN. They save the kernel calls, the buffers and
;; the passes in between.
;; Pointers are byte offsets; outputs may not alias inputs.
;; scripts/build-wasm-kernels.ts compiles this file twice: MEMORY is
;; "(memory 1)" for tfjs's plain build and "(memory 1 65536 shared)" for its
;; threaded build.
(module
  (import "env" "memory" MEMORY)
  (func (export "bias_relu") (param $x i32) (param $bias i32) (param $y i32) (param $rows i32) (param $cols i32)
    (local $r i32) (local $c i32) (local $rowBytes i32) (local $simdBytes i32) (local $row i32)
    (local.set $rowBytes (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $simdBytes (i32.and (local.get $rowBytes) (i32.const -16)))
    (block $rowsDone
      (loop $rowLoop
        (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $row (i32.mul (local.get $r) (local.get $rowBytes)))
        (local.set $c (i32.const 0))
        (block $simdDone
          (loop $simd
            (br_if $simdDone (i32.ge_u (local.get $c) (local.get $simdBytes)))
            (v128.store (i32.add (local.get $y) (i32.add (local.get $row) (local.get $c)))
              (f32x4.max
                (f32x4.add
                  (v128.load (i32.add (local.get $x) (i32.add (local.get $row) (local.get $c))))
                  (v128.load (i32.add (local.get $bias) (local.get $c))))
                (v128.const f32x4 0 0 0 0)))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $simd)))
        (block $tailDone
          (loop $tail
            (br_if $tailDone (i32.ge_u (local.get $c) (local.get $rowBytes)))
            (f32.store (i32.add (local.get $y) (i32.add (local.get $row) (local.get $c)))
              (f32.max
                (f32.add
                  (f32.load (i32.add (local.get $x) (i32.add (local.get $row) (local.get $c))))
                  (f32.load (i32.add (local.get $bias) (local.get $c))))
                (f32.const 0)))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (br $tail)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rowLoop))))

  (func (export "relu_bias_grad") (param $dy i32) (param $y i32) (param $dx i32) (param $dBias i32) (param $rows i32) (param $cols i32)
    (local $r i32) (local $c i32) (local $rowBytes i32) (local $simdBytes i32) (local $row i32)
    (local $g v128) (local $out v128) (local $s f32) (local $o f32)
    (local.set $rowBytes (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $simdBytes (i32.and (local.get $rowBytes) (i32.const -16)))
    ;; dBias starts at +0, like the Sum kernel's accumulator.
    (local.set $c (i32.const 0))
    (block $zeroDone
      (loop $zero
        (br_if $zeroDone (i32.ge_u (local.get $c) (local.get $rowBytes)))
        (f32.store (i32.add (local.get $dBias) (local.get $c)) (f32.const 0))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $zero)))
    ;; Row by row, so each column's sum adds its rows in order.
    (block $rowsDone
      (loop $rowLoop
        (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $row (i32.mul (local.get $r) (local.get $rowBytes)))
        (local.set $c (i32.const 0))
        (block $simdDone
          (loop $simd
            (br_if $simdDone (i32.ge_u (local.get $c) (local.get $simdBytes)))
            (local.set $out (v128.load (i32.add (local.get $y) (i32.add (local.get $row) (local.get $c)))))
            ;; step(y): 1 where y > 0, y itself (NaN) where y is NaN, else 0.
            (local.set $g
              (f32x4.mul
                (v128.load (i32.add (local.get $dy) (i32.add (local.get $row) (local.get $c))))
                (v128.bitselect (local.get $out)
                  (v128.bitselect (v128.const f32x4 1 1 1 1) (v128.const f32x4 0 0 0 0)
                    (f32x4.gt (local.get $out) (v128.const f32x4 0 0 0 0)))
                  (f32x4.ne (local.get $out) (local.get $out)))))
            (v128.store (i32.add (local.get $dx) (i32.add (local.get $row) (local.get $c))) (local.get $g))
            (v128.store (i32.add (local.get $dBias) (local.get $c))
              (f32x4.add (v128.load (i32.add (local.get $dBias) (local.get $c))) (local.get $g)))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $simd)))
        (block $tailDone
          (loop $tail
            (br_if $tailDone (i32.ge_u (local.get $c) (local.get $rowBytes)))
            (local.set $o (f32.load (i32.add (local.get $y) (i32.add (local.get $row) (local.get $c)))))
            (local.set $s
              (f32.mul
                (f32.load (i32.add (local.get $dy) (i32.add (local.get $row) (local.get $c))))
                (select (local.get $o)
                  (select (f32.const 1) (f32.const 0) (f32.gt (local.get $o) (f32.const 0)))
                  (f32.ne (local.get $o) (local.get $o)))))
            (f32.store (i32.add (local.get $dx) (i32.add (local.get $row) (local.get $c))) (local.get $s))
            (f32.store (i32.add (local.get $dBias) (local.get $c))
              (f32.add (f32.load (i32.add (local.get $dBias) (local.get $c))) (local.get $s)))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (br $tail)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rowLoop)))))
