// Package gs1 owns the GS1 EPC Tag Data Standard (TDS 2.x) as rfidgw uses it:
// decoding the EPC bank's binary encoding into a pure identity URI
// (urn:epc:id:...), a tag URI (urn:epc:tag:...), the filter value and the
// scheme's fields; the raw URI (urn:epc:raw:...) for EPCs that do not decode;
// the GS1 Digital Link form of a pure identity (used by the EPCIS event hash);
// and the accept/ignore patterns that filter foreign tags.
//
// Decoded encodings (TDS section 14): SGTIN-96/198, SSCC-96, SGLN-96/195,
// GRAI-96/170, GIAI-96/202, GSRN-96, GSRNP-96, GDTI-96/174 and GID-96, with
// their partition tables, filter values and the 7-bit string fields of the
// long variants. Any other header (CPI, SGCN, ITIP, USDOD, ADI, the "+"
// encodings, non-EPC data) does not decode: callers use RawURI.
//
// It is a leaf package: pure functions and values, no I/O, no goroutines, no
// imports of the gateway's stages. Inputs are bounded: EPCs to MaxHexLen for
// Decode, patterns to MaxPatternLen.
//
//	func Decode(hex string) (EPC, error)
//	func RawURI(hex string) string
//	func DigitalLink(uri string) (string, bool)
//	func ParsePattern(s string) (Pattern, error)
//	func NewFilter(accept, ignore []string) (*Filter, error)
//	func (f *Filter) Allows(hex string) bool
package gs1
