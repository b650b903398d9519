package faults

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// maxJSONDepth bounds the nesting rejectDuplicateKeys follows (a plan is
// three levels deep).
const maxJSONDepth = 32

// rejectDuplicateKeys fails on a JSON object that names a key twice, giving
// the key's path ("faults[0].hit"). Malformed JSON is left to the decoder
// that follows, which words it better.
func rejectDuplicateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	err := walkJSON(dec, "", 0)
	if _, dup := err.(duplicateKeyError); dup {
		return err
	}
	return nil
}

type duplicateKeyError struct{ path string }

func (e duplicateKeyError) Error() string { return "duplicate key " + Quote(e.path) }

// errJSONShape stops a walk at malformed or too deep JSON.
var errJSONShape = fmt.Errorf("malformed")

func walkJSON(dec *json.Decoder, path string, depth int) error {
	if depth > maxJSONDepth {
		return errJSONShape
	}
	tok, err := dec.Token()
	if err != nil {
		return errJSONShape
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			key, ok := kt.(string)
			if err != nil || !ok {
				return errJSONShape
			}
			sub := key
			if path != "" {
				sub = path + "." + key
			}
			if seen[key] {
				return duplicateKeyError{sub}
			}
			seen[key] = true
			if err := walkJSON(dec, sub, depth+1); err != nil {
				return err
			}
		}
		_, err = dec.Token() // '}'
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if err := walkJSON(dec, path+"["+strconv.Itoa(i)+"]", depth+1); err != nil {
				return err
			}
		}
		_, err = dec.Token() // ']'
	}
	if err != nil {
		return errJSONShape
	}
	return nil
}
