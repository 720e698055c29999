package main

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func inputEvent(typ, code uint16, value int32) []byte {
	ev := make([]byte, 24)
	binary.LittleEndian.PutUint16(ev[16:], typ)
	binary.LittleEndian.PutUint16(ev[18:], code)
	binary.LittleEndian.PutUint32(ev[20:], uint32(value))
	return ev
}

func TestWaitPowerKey(t *testing.T) {
	var stream bytes.Buffer
	stream.Write(inputEvent(evKey, 30, 1))       // 'a' pressed
	stream.Write(inputEvent(evKey, keyPower, 0)) // power released: not a press
	stream.Write(inputEvent(0, 0, 0))            // sync
	if waitPowerKey(bytes.NewReader(stream.Bytes())) {
		t.Fatal("reported a power press that never came")
	}
	stream.Write(inputEvent(evKey, keyPower, 1))
	if !waitPowerKey(bytes.NewReader(stream.Bytes())) {
		t.Fatal("missed the power key press")
	}
}
