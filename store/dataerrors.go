package store

import (
	"errors"
	"fmt"
	"strings"

	"github.com/lib/pq"

	"github.com/blockd/blockd/schemas"
)

// DataError is a statement PostgreSQL refused because of the data it was
// given, not because it is unavailable: SQLSTATE class 22 (data exception:
// a NUL character, bytes that are not UTF-8, a number out of range), class
// 23 (integrity constraint violation: a NOT NULL or CHECK the data breaks)
// other than a unique violation, and class 54 (a program limit the data
// ran into: an index row or a value too large). Trying again cannot
// succeed. It wraps schemas.ErrUnstorable, so callers test for it without
// importing store. Its text names the SQLSTATE and where, never a value
// (PostgreSQL's own message may quote one).
type DataError struct {
	// Context is what the store was doing, as its wrapping said it.
	Context string
	// SQLState and Condition are PostgreSQL's code and its name.
	SQLState, Condition string
	// Table, Column and Constraint say where, when PostgreSQL says.
	Table, Column, Constraint string
	pqErr                     *pq.Error
}

func (e *DataError) Error() string {
	var where []string
	for _, w := range [][2]string{{"table", e.Table}, {"column", e.Column}, {"constraint", e.Constraint}} {
		if w[1] != "" {
			where = append(where, w[0]+" "+w[1])
		}
	}
	s := fmt.Sprintf("%s%s: SQLSTATE %s %s", e.Context, schemas.ErrUnstorable, e.SQLState, e.Condition)
	if len(where) > 0 {
		s += " (" + strings.Join(where, ", ") + ")"
	}
	return s
}

// Unwrap gives schemas.ErrUnstorable and PostgreSQL's own error.
func (e *DataError) Unwrap() []error { return []error{schemas.ErrUnstorable, e.pqErr} }

// IsDataError reports whether err is a DataError: the data was refused,
// and trying again is pointless. Everything else the store returns (a lost
// connection, a timeout, a serialization failure or deadlock, a server
// shutting down) may succeed when tried again.
func IsDataError(err error) bool { return errors.Is(err, schemas.ErrUnstorable) }

// asDataError turns err into a *DataError when PostgreSQL refused the data,
// keeping the context the store's wrapping gave it; any other error is
// returned as it is.
func asDataError(err error) error {
	var pe *pq.Error
	if err == nil || IsDataError(err) || !errors.As(err, &pe) {
		return err
	}
	class := pe.Code.Class()
	if class != "22" && class != "23" && class != "54" || pe.Code == "23505" {
		return err
	}
	context := ""
	if text := err.Error(); strings.HasSuffix(text, pe.Error()) {
		context = strings.TrimSuffix(text, pe.Error())
	}
	return &DataError{Context: context, SQLState: string(pe.Code), Condition: pe.Code.Name(),
		Table: pe.Table, Column: pe.Column, Constraint: pe.Constraint, pqErr: pe}
}
