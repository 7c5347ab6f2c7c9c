;; MaxPoolGrad for windows that do not overlap (stride >= window, as in every
;; 2x2 pool of relearn's CNNs), 4 channels at a time (wasm SIMD): each output
;; pixel's gradient goes to the first maximum of its window in row-major
;; order, every other pixel of the window gets 0. Two passes over the window
;; per 4 channels: the maximum (a lane takes a value only when it is greater,
;; so a NaN never wins and a window of NaN or -Infinity gets no gradient, as
;; in tfjs's cpu kernel), then the stores, each lane to the first pixel equal
;; to its maximum. The JS loop it replaces (max_pool_grad.ts) reads one value
;; at a time with bounds checks, about 3-6x slower on 28x28x32 maps.
;;
;; Pointers are byte offsets into tfjs's heap (the memory is imported); the
;; channel count must be a multiple of 4. Pixels in no window (stride larger
;; than the window, or outside the last window) are not written: the caller
;; zeroes dx first. Exact: values are compared and moved, never computed.
;; scripts/build-wasm-kernels.ts compiles this file twice: MEMORY is
;; "(memory 1)" for tfjs's plain build and "(memory 1 65536 shared)" for its
;; threaded build.
(module
  (import "env" "memory" MEMORY)
  (func (export "maxPoolGrad")
    (param $x i32) (param $dy i32) (param $dx i32)
    (param $batch i32) (param $inH i32) (param $inW i32) (param $channels i32)
    (param $outH i32) (param $outW i32) (param $strideH i32) (param $strideW i32)
    (param $filterH i32) (param $filterW i32) (param $top i32) (param $left i32)
    (local $b i32) (local $oy i32) (local $ox i32) (local $c i32) (local $y i32) (local $col i32)
    (local $yFirst i32) (local $yEnd i32) (local $xFirst i32) (local $xEnd i32)
    (local $pixBytes i32) (local $rowBytes i32) (local $sample i32) (local $corner i32)
    (local $p i32) (local $toDx i32) (local $t i32)
    (local $best v128) (local $v v128) (local $taken v128) (local $eq v128) (local $g v128) (local $negInf v128)
    (local.set $pixBytes (i32.shl (local.get $channels) (i32.const 2)))
    (local.set $rowBytes (i32.mul (local.get $inW) (local.get $pixBytes)))
    (local.set $toDx (i32.sub (local.get $dx) (local.get $x)))
    (local.set $negInf (f32x4.splat (f32.const -inf)))
    (local.set $b (i32.const 0))
    (block $bDone
      (loop $bLoop
        (br_if $bDone (i32.ge_u (local.get $b) (local.get $batch)))
        (local.set $sample (i32.add (local.get $x)
          (i32.mul (local.get $b) (i32.mul (local.get $inH) (local.get $rowBytes)))))
        (local.set $oy (i32.const 0))
        (block $oyDone
          (loop $oyLoop
            (br_if $oyDone (i32.ge_u (local.get $oy) (local.get $outH)))
            ;; Window rows [yFirst, yEnd), clipped to the image.
            (local.set $t (i32.sub (i32.mul (local.get $oy) (local.get $strideH)) (local.get $top)))
            (local.set $yFirst (select (local.get $t) (i32.const 0) (i32.gt_s (local.get $t) (i32.const 0))))
            (local.set $t (i32.add (local.get $t) (local.get $filterH)))
            (local.set $yEnd (select (local.get $t) (local.get $inH) (i32.lt_s (local.get $t) (local.get $inH))))
            (local.set $ox (i32.const 0))
            (block $oxDone
              (loop $oxLoop
                (br_if $oxDone (i32.ge_u (local.get $ox) (local.get $outW)))
                ;; Window columns [xFirst, xEnd), clipped to the image.
                (local.set $t (i32.sub (i32.mul (local.get $ox) (local.get $strideW)) (local.get $left)))
                (local.set $xFirst (select (local.get $t) (i32.const 0) (i32.gt_s (local.get $t) (i32.const 0))))
                (local.set $t (i32.add (local.get $t) (local.get $filterW)))
                (local.set $xEnd (select (local.get $t) (local.get $inW) (i32.lt_s (local.get $t) (local.get $inW))))
                (local.set $corner (i32.add (local.get $sample)
                  (i32.add (i32.mul (local.get $yFirst) (local.get $rowBytes)) (i32.mul (local.get $xFirst) (local.get $pixBytes)))))
                (local.set $c (i32.const 0))
                (block $cDone
                  (loop $cLoop
                    (br_if $cDone (i32.ge_u (local.get $c) (local.get $pixBytes)))
                    ;; Pass 1: the maximum of each lane over the window.
                    (local.set $best (local.get $negInf))
                    (local.set $y (local.get $yFirst))
                    (block $y1Done
                      (loop $y1Loop
                        (br_if $y1Done (i32.ge_s (local.get $y) (local.get $yEnd)))
                        (local.set $p (i32.add (i32.add (local.get $corner) (local.get $c))
                          (i32.mul (i32.sub (local.get $y) (local.get $yFirst)) (local.get $rowBytes))))
                        (local.set $col (local.get $xFirst))
                        (block $x1Done
                          (loop $x1Loop
                            (br_if $x1Done (i32.ge_s (local.get $col) (local.get $xEnd)))
                            (local.set $v (v128.load (local.get $p)))
                            (local.set $best (v128.bitselect (local.get $v) (local.get $best)
                              (f32x4.gt (local.get $v) (local.get $best))))
                            (local.set $p (i32.add (local.get $p) (local.get $pixBytes)))
                            (local.set $col (i32.add (local.get $col) (i32.const 1)))
                            (br $x1Loop)))
                        (local.set $y (i32.add (local.get $y) (i32.const 1)))
                        (br $y1Loop)))
                    ;; Pass 2: dy to the first pixel equal to the maximum, 0 to the rest.
                    ;; Lanes whose maximum stayed -Infinity count as taken: no pixel gets their gradient.
                    (local.set $taken (v128.not (f32x4.gt (local.get $best) (local.get $negInf))))
                    (local.set $g (v128.load (local.get $dy)))
                    (local.set $y (local.get $yFirst))
                    (block $y2Done
                      (loop $y2Loop
                        (br_if $y2Done (i32.ge_s (local.get $y) (local.get $yEnd)))
                        (local.set $p (i32.add (i32.add (local.get $corner) (local.get $c))
                          (i32.mul (i32.sub (local.get $y) (local.get $yFirst)) (local.get $rowBytes))))
                        (local.set $col (local.get $xFirst))
                        (block $x2Done
                          (loop $x2Loop
                            (br_if $x2Done (i32.ge_s (local.get $col) (local.get $xEnd)))
                            (local.set $eq (v128.andnot (f32x4.eq (v128.load (local.get $p)) (local.get $best)) (local.get $taken)))
                            (v128.store (i32.add (local.get $p) (local.get $toDx)) (v128.and (local.get $g) (local.get $eq)))
                            (local.set $taken (v128.or (local.get $taken) (local.get $eq)))
                            (local.set $p (i32.add (local.get $p) (local.get $pixBytes)))
                            (local.set $col (i32.add (local.get $col) (i32.const 1)))
                            (br $x2Loop)))
                        (local.set $y (i32.add (local.get $y) (i32.const 1)))
                        (br $y2Loop)))
                    (local.set $dy (i32.add (local.get $dy) (i32.const 16)))
                    (local.set $c (i32.add (local.get $c) (i32.const 16)))
                    (br $cLoop)))
                (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
                (br $oxLoop)))
            (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
            (br $oyLoop)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $bLoop)))))
