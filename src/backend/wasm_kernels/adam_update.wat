;; One Adam/AdamW step over n float32 values, 4 lanes at a time (wasm SIMD),
;; reading and writing tfjs's own wasm heap (the memory is imported).
;;
;;   g   = grad + coupledDecay * w
;;   m'  = beta1 * m + oneMinusBeta1 * g
;;   v'  = beta2 * v + oneMinusBeta2 * (g * g)
;;   w'  = w * decoupledFactor - (stepSize * m') / (sqrt(v') * correction + epsilon)
;;
;; and then m' and v' are stored as 0 where |m'| or |v'| is below 2^-126
;; (float32's smallest normal number): a weight whose gradient stays 0 would
;; otherwise keep a subnormal moment for good (0.9 * m rounds back to m), and
;; on x86 every SIMD operation on a subnormal takes a slow microcode assist
;; (wasm cannot switch on flush-to-zero). NaN is kept (the comparison is false).
;;
;; Every operation is a single IEEE float32 operation in this order (wasm has
;; no fused multiply-add), so the result equals the op-by-op float32 chain
;; bit for bit. Pointers are byte offsets into the heap; outW may not alias
;; an input, outM and outV may be m and v themselves (each value is loaded
;; before it is stored). scripts/build-wasm-kernels.ts compiles this file twice:
;; MEMORY is "(memory 1)" for tfjs's plain build and
;; "(memory 1 65536 shared)" for its threaded build.
(module
  (import "env" "memory" MEMORY)
  (func (export "adam")
    (param $w i32) (param $grad i32) (param $m i32) (param $v i32)
    (param $outW i32) (param $outM i32) (param $outV i32) (param $n i32)
    (param $beta1 f32) (param $oneMinusBeta1 f32) (param $beta2 f32) (param $oneMinusBeta2 f32)
    (param $epsilon f32) (param $stepSize f32) (param $correction f32)
    (param $coupledDecay f32) (param $decoupledFactor f32)
    (local $i i32) (local $end i32) (local $simdEnd i32)
    (local $x v128) (local $g v128) (local $m1 v128) (local $v1 v128)
    (local $sx f32) (local $sg f32) (local $sm1 f32) (local $sv1 f32)
    (local $tiny v128)
    (local.set $tiny (f32x4.splat (f32.const 0x1p-126)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $simdEnd (i32.and (local.get $end) (i32.const -16)))
    (block $simdDone
      (loop $simd
        (br_if $simdDone (i32.ge_u (local.get $i) (local.get $simdEnd)))
        (local.set $x (v128.load (i32.add (local.get $w) (local.get $i))))
        (local.set $g
          (f32x4.add
            (v128.load (i32.add (local.get $grad) (local.get $i)))
            (f32x4.mul (f32x4.splat (local.get $coupledDecay)) (local.get $x))))
        (local.set $m1
          (f32x4.add
            (f32x4.mul (f32x4.splat (local.get $beta1)) (v128.load (i32.add (local.get $m) (local.get $i))))
            (f32x4.mul (f32x4.splat (local.get $oneMinusBeta1)) (local.get $g))))
        (local.set $v1
          (f32x4.add
            (f32x4.mul (f32x4.splat (local.get $beta2)) (v128.load (i32.add (local.get $v) (local.get $i))))
            (f32x4.mul (f32x4.splat (local.get $oneMinusBeta2)) (f32x4.mul (local.get $g) (local.get $g)))))
        (local.set $m1 (v128.andnot (local.get $m1) (f32x4.lt (f32x4.abs (local.get $m1)) (local.get $tiny))))
        (local.set $v1 (v128.andnot (local.get $v1) (f32x4.lt (f32x4.abs (local.get $v1)) (local.get $tiny))))
        (v128.store (i32.add (local.get $outM) (local.get $i)) (local.get $m1))
        (v128.store (i32.add (local.get $outV) (local.get $i)) (local.get $v1))
        (v128.store (i32.add (local.get $outW) (local.get $i))
          (f32x4.sub
            (f32x4.mul (local.get $x) (f32x4.splat (local.get $decoupledFactor)))
            (f32x4.div
              (f32x4.mul (f32x4.splat (local.get $stepSize)) (local.get $m1))
              (f32x4.add
                (f32x4.mul (f32x4.sqrt (local.get $v1)) (f32x4.splat (local.get $correction)))
                (f32x4.splat (local.get $epsilon))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $simd)))
    ;; The last n mod 4 values, one at a time, with the same operations.
    (block $tailDone
      (loop $tail
        (br_if $tailDone (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $sx (f32.load (i32.add (local.get $w) (local.get $i))))
        (local.set $sg
          (f32.add
            (f32.load (i32.add (local.get $grad) (local.get $i)))
            (f32.mul (local.get $coupledDecay) (local.get $sx))))
        (local.set $sm1
          (f32.add
            (f32.mul (local.get $beta1) (f32.load (i32.add (local.get $m) (local.get $i))))
            (f32.mul (local.get $oneMinusBeta1) (local.get $sg))))
        (local.set $sv1
          (f32.add
            (f32.mul (local.get $beta2) (f32.load (i32.add (local.get $v) (local.get $i))))
            (f32.mul (local.get $oneMinusBeta2) (f32.mul (local.get $sg) (local.get $sg)))))
        (if (f32.lt (f32.abs (local.get $sm1)) (f32.const 0x1p-126)) (then (local.set $sm1 (f32.const 0))))
        (if (f32.lt (f32.abs (local.get $sv1)) (f32.const 0x1p-126)) (then (local.set $sv1 (f32.const 0))))
        (f32.store (i32.add (local.get $outM) (local.get $i)) (local.get $sm1))
        (f32.store (i32.add (local.get $outV) (local.get $i)) (local.get $sv1))
        (f32.store (i32.add (local.get $outW) (local.get $i))
          (f32.sub
            (f32.mul (local.get $sx) (local.get $decoupledFactor))
            (f32.div
              (f32.mul (local.get $stepSize) (local.get $sm1))
              (f32.add
                (f32.mul (f32.sqrt (local.get $sv1)) (local.get $correction))
                (local.get $epsilon)))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $tail)))))
