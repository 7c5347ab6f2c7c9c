/** UCI Letter Recognition's class names (Slate 1991), for every host (letter.ts, which reads files, is Node-only). */

/** The class names, indexed by label: 0 = "A" ... 25 = "Z". */
export const LETTER_CLASSES = Object.freeze(Array.from({ length: 26 }, (_, i) => String.fromCharCode(65 + i)));
