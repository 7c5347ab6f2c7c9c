;; One plain SGD step for one variable, on float32 arrays in tfjs's wasm heap
;; (the memory is imported), 4 lanes at a time (wasm SIMD), the last size
;; mod 4 values one at a time:
;;
;;   out[i] = c * grad[i] + value[i]        (c = -learning rate, as float32)
;;
;; which is what tf.train.sgd computes, add(mul(c, gradient), value): the
;; same two float32 operations in the same order (wasm has no fused
;; multiply-add), so the same bits (NaN payloads aside). It replaces the two
;; engine kernels per variable and the buffer between them.
;; Pointers are byte offsets; out may not alias the inputs.
;; scripts/build-wasm-kernels.ts compiles this file twice: MEMORY is
;; "(memory 1)" for tfjs's plain build and "(memory 1 65536 shared)" for its
;; threaded build.
(module
  (import "env" "memory" MEMORY)
  (func (export "sgd") (param $value i32) (param $grad i32) (param $out i32) (param $size i32) (param $c f32)
    (local $i i32) (local $bytes i32) (local $simdBytes i32) (local $cv v128)
    (local.set $bytes (i32.shl (local.get $size) (i32.const 2)))
    (local.set $simdBytes (i32.and (local.get $bytes) (i32.const -16)))
    (local.set $cv (f32x4.splat (local.get $c)))
    (block $simdDone
      (loop $simd
        (br_if $simdDone (i32.ge_u (local.get $i) (local.get $simdBytes)))
        (v128.store (i32.add (local.get $out) (local.get $i))
          (f32x4.add
            (f32x4.mul (local.get $cv) (v128.load (i32.add (local.get $grad) (local.get $i))))
            (v128.load (i32.add (local.get $value) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $simd)))
    (block $tailDone
      (loop $tail
        (br_if $tailDone (i32.ge_u (local.get $i) (local.get $bytes)))
        (f32.store (i32.add (local.get $out) (local.get $i))
          (f32.add
            (f32.mul (local.get $c) (f32.load (i32.add (local.get $grad) (local.get $i))))
            (f32.load (i32.add (local.get $value) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $tail))))
)
