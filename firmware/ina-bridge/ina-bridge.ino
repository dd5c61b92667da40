// ina-bridge: streams an INA219 or INA226 current/voltage monitor over USB serial as
// timestamped text, for harness/power/ina_bridge.py (URL ina:///dev/ttyACM0).
// Boards: RP2040 (arduino-pico core) or any Arduino with I2C. Wiring and format: docs/power.md.
//
// Protocol (115200 baud, lines end in \n; the host may send \r\n):
//   host:   INFO | START <period_us> | STOP
//   bridge: "# ina-bridge 1 <INA219|INA226> shunt_mohm=<n>"  reply to INFO
//           "OK START" / "OK STOP" / "ERR <why>"
//           "S <seq> <t_us> <bus_mV> <current_uA>"           one sample; seq from 0 at START
//           "E <t_us> <level>"                               an edge on TRIGGER_PIN
// t_us is micros(), which wraps at 2^32 (every 71.6 minutes); the host unwraps it.

#include <Wire.h>

// ---- configuration: set these for your board ----
const uint8_t INA_ADDR = 0x40;       // A0/A1 to GND
const bool IS_INA226 = true;         // false: INA219
const uint32_t SHUNT_MOHM = 100;     // the shunt resistor, milliohms (R100 on most breakouts)
const int TRIGGER_PIN = 2;           // the board under test's timestamp GPIO (MLPerf Tiny's D7)
// INA226 current LSB: 10 uA with a 100 mOhm shunt gives a 327 mA range
const float CURRENT_LSB_UA = 10.0;

volatile uint32_t edge_us[32];
volatile uint8_t edge_level[32];
volatile uint8_t edge_head = 0, edge_tail = 0;

bool running = false;
uint32_t period_us = 1000, next_us = 0, seq = 0;

void on_edge() {
  uint8_t next = (edge_head + 1) & 31;
  if (next == edge_tail) return;  // full: the host sees a missing edge as "trigger never came"
  edge_us[edge_head] = micros();
  edge_level[edge_head] = digitalRead(TRIGGER_PIN);
  edge_head = next;
}

void write_reg(uint8_t reg, uint16_t value) {
  Wire.beginTransmission(INA_ADDR);
  Wire.write(reg);
  Wire.write(value >> 8);
  Wire.write(value & 0xFF);
  Wire.endTransmission();
}

int16_t read_reg(uint8_t reg) {
  Wire.beginTransmission(INA_ADDR);
  Wire.write(reg);
  Wire.endTransmission(false);
  Wire.requestFrom(INA_ADDR, (uint8_t)2);
  uint16_t hi = Wire.read(), lo = Wire.read();
  return (int16_t)((hi << 8) | lo);
}

void configure() {
  if (IS_INA226) {
    write_reg(0x00, 0x4127);  // average 1, 1.1 ms conversions, shunt+bus continuous
    // CAL = 0.00512 / (current_LSB[A] * R_shunt[Ohm])
    write_reg(0x05, (uint16_t)(0.00512 / (CURRENT_LSB_UA * 1e-6 * SHUNT_MOHM * 1e-3)));
  } else {
    write_reg(0x00, 0x399F);  // 32 V, +-320 mV, 12-bit, continuous
  }
}

void sample() {
  int32_t bus_mv, current_ua;
  if (IS_INA226) {
    bus_mv = ((int32_t)(uint16_t)read_reg(0x02) * 125) / 100;                  // 1.25 mV/bit
    current_ua = (int32_t)((float)read_reg(0x01) * 2.5f * 1000.0f / SHUNT_MOHM);  // shunt 2.5 uV/bit
  } else {
    bus_mv = ((uint16_t)read_reg(0x02) >> 3) * 4;                               // 4 mV/bit
    current_ua = (int32_t)((float)read_reg(0x01) * 10.0f * 1000.0f / SHUNT_MOHM);  // shunt 10 uV/bit
  }
  Serial.print("S "); Serial.print(seq++); Serial.print(' '); Serial.print(micros());
  Serial.print(' '); Serial.print(bus_mv); Serial.print(' '); Serial.println(current_ua);
}

void flush_edges() {
  while (edge_tail != edge_head) {
    Serial.print("E "); Serial.print(edge_us[edge_tail]); Serial.print(' ');
    Serial.println(edge_level[edge_tail]);
    edge_tail = (edge_tail + 1) & 31;
  }
}

void command(String line) {
  line.trim();
  if (line == "INFO") {
    Serial.print("# ina-bridge 1 "); Serial.print(IS_INA226 ? "INA226" : "INA219");
    Serial.print(" shunt_mohm="); Serial.println(SHUNT_MOHM);
  } else if (line.startsWith("START ")) {
    long p = line.substring(6).toInt();
    if (p < 100) { Serial.println("ERR period_us must be >= 100"); return; }
    period_us = p; seq = 0; next_us = micros(); edge_tail = edge_head; running = true;
    Serial.println("OK START");
  } else if (line == "STOP") {
    running = false;
    Serial.println("OK STOP");
  } else {
    Serial.print("ERR unknown command "); Serial.println(line);
  }
}

void setup() {
  Serial.begin(115200);
  Wire.begin();
  Wire.setClock(400000);
  configure();
  pinMode(TRIGGER_PIN, INPUT);
  attachInterrupt(digitalPinToInterrupt(TRIGGER_PIN), on_edge, CHANGE);
}

void loop() {
  if (Serial.available()) command(Serial.readStringUntil('\n'));
  if (!running) return;
  flush_edges();
  if ((int32_t)(micros() - next_us) >= 0) {
    next_us += period_us;
    sample();
  }
}
