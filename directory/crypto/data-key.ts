import { decryptText, encryptText } from './field-cipher.js';

/** Where a value is stored; it becomes the value's associated data. */
export interface FieldPlace {
  table: string;
  column: string;
  rowId: string;
}

const placeOf = (place: FieldPlace) => `telemoat/${place.table}.${place.column}/${place.rowId}`;

/**
 * One person's or one organisation's own data key, unwrapped. Every personal field of its
 * owner is sealed with it, so deleting the key's row (crypto-shredding) leaves only
 * ciphertexts that nobody can open, in the database and in every backup taken after.
 */
export class DataKey {
  constructor(
    readonly id: string,
    private readonly key: Buffer,
  ) {}

  seal(place: FieldPlace, value: string): Buffer {
    return encryptText(this.key, value, placeOf(place));
  }

  sealOptional(place: FieldPlace, value: string | null | undefined): Buffer | null {
    return value === null || value === undefined ? null : this.seal(place, value);
  }

  open(place: FieldPlace, sealed: Buffer): string {
    return decryptText(this.key, sealed, placeOf(place));
  }

  openOptional(place: FieldPlace, sealed: Buffer | null): string | null {
    return sealed === null ? null : this.open(place, sealed);
  }
}
