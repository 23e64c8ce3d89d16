package admin

import "relay/store"

// DeliveryRecord is one attempt to deliver a notification, as Deliveries
// returns it: an alias, so that callers (the web console) can name the
// actions' method set without importing the store.
type DeliveryRecord = store.DeliveryRecord
