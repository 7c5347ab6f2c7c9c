;; A conv layer's bias, ReLU and 2x2 max-pool (stride 2, "valid", even map
;; sides) in one pass each way, for relearn's cnn() blocks on wasm
;; (model/conv_bias_relu.ts). conv is the convolution's output, NHWC, seen
;; as pooled rows: pooled row p (sample n, pooled row py) is the pair of conv
;; rows 2py and 2py + 1, so its window px covers conv floats
;; p * 2 * W * C + 2 * px * C + (0 | C | W * C | W * C + C) + channel,
;; W = 2 * pooledCols. channels is a multiple of 4.
;;
;;   biasReluPool:     out = max(max over the window of (conv + bias), 0)
;;                     which is max over the window of relu(conv + bias)
;;                     exactly (adding the bias is monotone in float32);
;;                     NaN propagates (wasm's max).
;;   biasReluPoolGrad: dConv = dOut at the first pixel of the window (row-major)
;;                     whose conv + bias equals the window's maximum, where that
;;                     maximum is > 0; zero everywhere else (what MaxPoolGrad
;;                     then ReLU's gradient give, up to the sign of zeros);
;;                     dBias = the sum of dConv over all pixels, window by window.
;;
;; No buffer for the ReLU's output, one pass instead of Add, Relu, MaxPool
;; forward and MaxPoolGrad, Step, Multiply, Sum backward. Pointers are byte
;; offsets into tfjs's heap (the memory is imported); outputs may not alias
;; inputs. scripts/build-wasm-kernels.ts compiles this file twice: MEMORY is
;; "(memory 1)" for tfjs's plain build and "(memory 1 65536 shared)" for its
;; threaded build.
(module
  (import "env" "memory" MEMORY)
  (func (export "biasReluPool") (param $conv i32) (param $bias i32) (param $out i32) (param $pooledRows i32) (param $pooledCols i32) (param $channels i32)
    (local $p i32) (local $px i32) (local $c i32) (local $pixelBytes i32) (local $rowBytes i32) (local $window i32) (local $o i32) (local $b v128)
    (local.set $pixelBytes (i32.shl (local.get $channels) (i32.const 2)))
    (local.set $rowBytes (i32.mul (i32.shl (local.get $pooledCols) (i32.const 1)) (local.get $pixelBytes)))
    (local.set $o (local.get $out))
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $p) (local.get $pooledRows)))
        (local.set $px (i32.const 0))
        (loop $windows
          (local.set $window (i32.add (local.get $conv)
            (i32.add (i32.mul (local.get $p) (i32.shl (local.get $rowBytes) (i32.const 1)))
                     (i32.mul (local.get $px) (i32.shl (local.get $pixelBytes) (i32.const 1))))))
          (local.set $c (i32.const 0))
          (loop $lanes
            (local.set $b (v128.load (i32.add (local.get $bias) (local.get $c))))
            (v128.store (local.get $o)
              (f32x4.max
                (f32x4.max
                  (f32x4.max
                    (f32x4.add (v128.load (i32.add (local.get $window) (local.get $c))) (local.get $b))
                    (f32x4.add (v128.load (i32.add (i32.add (local.get $window) (local.get $pixelBytes)) (local.get $c))) (local.get $b)))
                  (f32x4.max
                    (f32x4.add (v128.load (i32.add (i32.add (local.get $window) (local.get $rowBytes)) (local.get $c))) (local.get $b))
                    (f32x4.add (v128.load (i32.add (i32.add (i32.add (local.get $window) (local.get $rowBytes)) (local.get $pixelBytes)) (local.get $c))) (local.get $b))))
                (v128.const f32x4 0 0 0 0)))
            (local.set $o (i32.add (local.get $o) (i32.const 16)))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br_if $lanes (i32.lt_u (local.get $c) (local.get $pixelBytes))))
          (local.set $px (i32.add (local.get $px) (i32.const 1)))
          (br_if $windows (i32.lt_u (local.get $px) (local.get $pooledCols))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $rows))))

  (func (export "biasReluPoolGrad") (param $dOut i32) (param $conv i32) (param $bias i32) (param $dConv i32) (param $dBias i32)
    (param $pooledRows i32) (param $pooledCols i32) (param $channels i32)
    (local $p i32) (local $px i32) (local $c i32) (local $pixelBytes i32) (local $rowBytes i32) (local $offset i32) (local $g i32)
    (local $b v128) (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128) (local $m v128) (local $d v128)
    (local $e0 v128) (local $e1 v128) (local $e2 v128) (local $e3 v128) (local $taken v128)
    (local.set $pixelBytes (i32.shl (local.get $channels) (i32.const 2)))
    (local.set $rowBytes (i32.mul (i32.shl (local.get $pooledCols) (i32.const 1)) (local.get $pixelBytes)))
    ;; dBias starts at +0.
    (local.set $c (i32.const 0))
    (loop $zero
      (v128.store (i32.add (local.get $dBias) (local.get $c)) (v128.const f32x4 0 0 0 0))
      (local.set $c (i32.add (local.get $c) (i32.const 16)))
      (br_if $zero (i32.lt_u (local.get $c) (local.get $pixelBytes))))
    (local.set $g (local.get $dOut))
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $p) (local.get $pooledRows)))
        (local.set $px (i32.const 0))
        (loop $windows
          (local.set $c (i32.const 0))
          (loop $lanes
            ;; Byte offset of the window's top-left pixel, this channel group (the same in conv and dConv).
            (local.set $offset (i32.add
              (i32.add (i32.mul (local.get $p) (i32.shl (local.get $rowBytes) (i32.const 1)))
                       (i32.mul (local.get $px) (i32.shl (local.get $pixelBytes) (i32.const 1))))
              (local.get $c)))
            (local.set $b (v128.load (i32.add (local.get $bias) (local.get $c))))
            (local.set $v0 (f32x4.add (v128.load (i32.add (local.get $conv) (local.get $offset))) (local.get $b)))
            (local.set $v1 (f32x4.add (v128.load (i32.add (i32.add (local.get $conv) (local.get $offset)) (local.get $pixelBytes))) (local.get $b)))
            (local.set $v2 (f32x4.add (v128.load (i32.add (i32.add (local.get $conv) (local.get $offset)) (local.get $rowBytes))) (local.get $b)))
            (local.set $v3 (f32x4.add (v128.load (i32.add (i32.add (i32.add (local.get $conv) (local.get $offset)) (local.get $rowBytes)) (local.get $pixelBytes))) (local.get $b)))
            (local.set $m (f32x4.max (f32x4.max (local.get $v0) (local.get $v1)) (f32x4.max (local.get $v2) (local.get $v3))))
            ;; The gradient where the pooled ReLU output is > 0, else +0.
            (local.set $d (v128.and (v128.load (local.get $g)) (f32x4.gt (local.get $m) (v128.const f32x4 0 0 0 0))))
            ;; The first pixel equal to the maximum takes it.
            (local.set $e0 (f32x4.eq (local.get $v0) (local.get $m)))
            (local.set $taken (local.get $e0))
            (local.set $e1 (v128.andnot (f32x4.eq (local.get $v1) (local.get $m)) (local.get $taken)))
            (local.set $taken (v128.or (local.get $taken) (local.get $e1)))
            (local.set $e2 (v128.andnot (f32x4.eq (local.get $v2) (local.get $m)) (local.get $taken)))
            (local.set $taken (v128.or (local.get $taken) (local.get $e2)))
            (local.set $e3 (v128.andnot (f32x4.eq (local.get $v3) (local.get $m)) (local.get $taken)))
            (v128.store (i32.add (local.get $dConv) (local.get $offset)) (v128.and (local.get $d) (local.get $e0)))
            (v128.store (i32.add (i32.add (local.get $dConv) (local.get $offset)) (local.get $pixelBytes)) (v128.and (local.get $d) (local.get $e1)))
            (v128.store (i32.add (i32.add (local.get $dConv) (local.get $offset)) (local.get $rowBytes)) (v128.and (local.get $d) (local.get $e2)))
            (v128.store (i32.add (i32.add (i32.add (local.get $dConv) (local.get $offset)) (local.get $rowBytes)) (local.get $pixelBytes)) (v128.and (local.get $d) (local.get $e3)))
            (v128.store (i32.add (local.get $dBias) (local.get $c))
              (f32x4.add (v128.load (i32.add (local.get $dBias) (local.get $c))) (local.get $d)))
            (local.set $g (i32.add (local.get $g) (i32.const 16)))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br_if $lanes (i32.lt_u (local.get $c) (local.get $pixelBytes))))
          (local.set $px (i32.add (local.get $px) (i32.const 1)))
          (br_if $windows (i32.lt_u (local.get $px) (local.get $pooledCols))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $rows)))))
