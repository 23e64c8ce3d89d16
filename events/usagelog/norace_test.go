//go:build !race

package usagelog_test

const raceBuild = false
