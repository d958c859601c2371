-- One database per service: services never share tables.
CREATE DATABASE signals OWNER ddk;
CREATE DATABASE indicators OWNER ddk;
CREATE DATABASE funding OWNER ddk;
