package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/blockd/blockd/store"
	"github.com/blockd/blockd/store/storetest"
)

func TestOpenCreatesTheDatabaseOnlyWhenToldTo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := storetest.MissingDatabase(t)

	_, err := store.Open(ctx, dbURL)
	if !errors.Is(err, store.ErrDatabaseMissing) {
		t.Fatalf("Open of a missing database: got %v, want ErrDatabaseMissing", err)
	}
	if !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("error %q does not say the database does not exist", err)
	}

	s, err := store.Open(ctx, dbURL, store.CreateDatabase())
	if err != nil {
		t.Fatalf("Open with CreateDatabase: %v", err)
	}
	defer s.Close()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("the created database does not answer: %v", err)
	}
}
